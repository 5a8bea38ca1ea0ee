"""ocr-frames: a dataframe column of document images in, a clean typed table out.

>>> import ocr_frames as of
>>> df = of.recognize(paths, "idcard", engine=of.WeChatEngine.from_env())  # doctest: +SKIP
>>> of.write_parquet(df, "ids.parquet")                                   # doctest: +SKIP
"""

from __future__ import annotations

import logging as _logging

from . import accessor as _accessor  # noqa: F401  (importing it registers df.ocr)
from ._errors import (
    AuthError,
    ConfigurationError,
    ImageError,
    OCRError,
    QuotaExceeded,
    RateLimited,
    RecognitionError,
    TransportError,
)
from ._version import __version__
from .engine import BaseEngine, Engine, Limiter, RetryPolicy, WeChatEngine
from .flatten import explode
from .kinds import KINDS, schema
from .parquet import read_parquet
from .pipeline import (
    RunSummary,
    arecognize,
    recognize,
    recognize_arrow,
    recognize_to_parquet,
    write_parquet,
)
from .shortcuts import bankcard, bizlicense, comm, driving, drivinglicense, idcard, menu, platenum

__all__ = [
    "KINDS",
    "AuthError",
    "BaseEngine",
    "ConfigurationError",
    "Engine",
    "ImageError",
    "Limiter",
    "OCRError",
    "QuotaExceeded",
    "RateLimited",
    "RecognitionError",
    "RetryPolicy",
    "RunSummary",
    "TransportError",
    "WeChatEngine",
    "__version__",
    "arecognize",
    "bankcard",
    "bizlicense",
    "comm",
    "driving",
    "drivinglicense",
    "explode",
    "idcard",
    "menu",
    "platenum",
    "read_parquet",
    "recognize",
    "recognize_arrow",
    "recognize_to_parquet",
    "schema",
    "write_parquet",
]

# a library stays quiet unless the application configures logging (the CLI's -v does)
_logging.getLogger("ocr_frames").addHandler(_logging.NullHandler())
