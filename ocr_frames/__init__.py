"""ocr-frames: a dataframe column of document images in, a clean typed table out.

>>> import ocr_frames as of
>>> df = of.recognize(paths, "idcard", engine=of.WeChatEngine.from_env())  # doctest: +SKIP
>>> of.write_parquet(df, "ids.parquet")                                   # doctest: +SKIP
"""

from __future__ import annotations

import logging as _logging

from ocr_frames._engine.base import BaseEngine
from ocr_frames._engine.contract import Engine
from ocr_frames._engine.policy import Limiter, RetryPolicy
from ocr_frames._errors import (
    AuthError,
    ConfigurationError,
    ImageError,
    OCRError,
    QuotaExceeded,
    RateLimited,
    RecognitionError,
    TransportError,
)
from ocr_frames._run import accessor as _accessor  # noqa: F401  (importing it registers df.ocr)
from ocr_frames._run.output import recognize_to_parquet, write_parquet
from ocr_frames._run.pipeline import RunSummary, arecognize, recognize, recognize_arrow
from ocr_frames._run.shortcuts import (
    bankcard,
    bizlicense,
    comm,
    driving,
    drivinglicense,
    idcard,
    menu,
    platenum,
)
from ocr_frames._tables.frames import explode
from ocr_frames._tables.parquet import read_parquet
from ocr_frames._version import __version__
from ocr_frames.cascade import Cascade
from ocr_frames.kinds import KINDS, schema
from ocr_frames.review import apply_reviews, read_reviews, show
from ocr_frames.wechat._engine import WeChatEngine

__all__ = [
    "KINDS",
    "AuthError",
    "BaseEngine",
    "Cascade",
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
    "apply_reviews",
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
    "read_reviews",
    "recognize",
    "recognize_arrow",
    "recognize_to_parquet",
    "schema",
    "show",
    "write_parquet",
]

# a library stays quiet unless the application configures logging (the CLI's -v does)
_logging.getLogger("ocr_frames").addHandler(_logging.NullHandler())
