"""Offline OCR that answers like the WeChat API: ``LocalEngine`` and the loopback server.

>>> import ocr_frames as of
>>> from ocr_frames.local import LocalEngine
>>> df = of.recognize(paths, "idcard", engine=LocalEngine())          # doctest: +SKIP

Needs the ``local`` extra (``pip install 'ocr-frames[local]'``: rapidocr, onnxruntime,
opencv-python-headless, Pillow).  Nothing is downloaded at run time: the PP-OCR models
ship inside the rapidocr wheel.  ``ocr-frames serve --engine local --port N`` serves the
WeChat protocol on 127.0.0.1 so that existing WeChat client code can point at it
(:func:`serve`, :class:`LocalServer`).
"""

from __future__ import annotations

from ocr_frames.local._engine import LAYOUT_VERSION, LocalEngine
from ocr_frames.local._serve import LocalServer, serve

__all__ = ["LAYOUT_VERSION", "LocalEngine", "LocalServer", "serve"]
