"""Benchmarks of ocr-frames (``make bench``, not part of ``make test``); see bench/run.py."""
