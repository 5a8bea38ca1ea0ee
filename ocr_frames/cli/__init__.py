"""The ``ocr-frames`` command (``ocr_frames.cli:main``, ``python -m ocr_frames.cli``).

:mod:`~ocr_frames.cli.parser` builds the arguments, :mod:`~ocr_frames.cli.main` runs the
commands (each one library call), :mod:`~ocr_frames.cli.inputs` reads what ``run`` is
pointed at and :mod:`~ocr_frames.cli.demo` is ``ocr-frames demo``.
"""

from __future__ import annotations

from ocr_frames.cli.main import main

__all__ = ["main"]
