"""The ``ocr-frames`` command (``ocr_frames.cli:main``, ``python -m ocr_frames.cli``).

:mod:`~ocr_frames.cli._parser` builds the arguments, :mod:`~ocr_frames.cli._main` runs the
commands (each one library call), :mod:`~ocr_frames.cli._inputs` reads what ``run`` is
pointed at and :mod:`~ocr_frames.cli._demo` is ``ocr-frames demo``.
"""

from __future__ import annotations

from ocr_frames.cli._main import main

__all__ = ["main"]
