"""Private: image-quality and tamper warnings from the pixels and metadata alone.

``assess(data)`` decodes one image (bytes) and returns a :class:`Quality`: a
``quality_score`` (0-100, higher is better), the subset of :data:`WARNINGS` that fire, and
the raw measure behind each warning; or ``None`` when the bytes are not a decodable image
(a PDF, a truncated file).  It never raises on bad input, never looks at OCR output, and so
gives the same answer whatever engine reads the image.

The modules, each importing only those above it:

* ``decode``: bytes → upright, downscaled arrays (``Frames``), fast (JPEG ``draft``);
* ``regions``: edges, the document region, blobs on a cell grid;
* ``pixels``: one heuristic per pixel warning and ``DEFAULT_THRESHOLDS``;
* ``metadata``: editing-software traces (``warn_edited``);
* ``assess``: ``WARNINGS``, ``Quality``, ``PENALTIES``, ``assess``.

``docs/quality.md`` describes each heuristic, its threshold and its failure modes, and maps
the warnings to the cloud vendors' codes; ``bench/quality.py`` measures them.
"""

from __future__ import annotations

from ocr_frames._quality.assess import PENALTIES, WARNINGS, Quality, assess, fired
from ocr_frames._quality.pixels import DEFAULT_THRESHOLDS

__all__ = ["DEFAULT_THRESHOLDS", "PENALTIES", "WARNINGS", "Quality", "assess", "fired"]
