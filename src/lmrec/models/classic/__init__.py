"""Classic baselines that need no torch: popularity, item-kNN (plain and sequence-aware), random."""
