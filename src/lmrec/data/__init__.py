"""Data layer: typed containers, atomic/tabular readers and the dataset registry."""
