"""An evaluation set made independently of sample_data/: see ``python -m bench.datasets --help``."""
