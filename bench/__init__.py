"""lmrec's benchmarks: each module is a script run from the repository root as
``python -m bench.NAME``; shared helpers live in the modules they are imported from. Nothing
here imports ``tests/``."""
