"""Item text: templates over catalogue fields, sentence encoders, and an on-disk embedding cache."""
