"""One table cell as plain Python, the way every part of the review reads it: pandas,
Arrow and numpy spell a missing value five ways (None, ``pd.NA``, ``pd.NaT``, NaN, a
numpy NaN), and a date is written as ISO text."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

__all__ = ["cell_int", "cell_text", "missing"]


def missing(value: object) -> bool:
    """Whether a cell holds no value."""
    if isinstance(value, np.generic):  # a numpy float32 NaN is no Python float
        value = value.item()
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and math.isnan(value))
    )


def cell_text(value: object) -> str | None:
    """The cell as text (a date as ``YYYY-MM-DD``), None when it holds no value."""
    if missing(value):
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def cell_int(value: object) -> int | None:
    """The cell as an int, None when it holds no value."""
    if missing(value):
        return None
    return int(value) if isinstance(value, int | float | np.number) else int(str(value))
