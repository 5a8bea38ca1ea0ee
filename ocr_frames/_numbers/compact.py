"""Normalisation of a number as read, before any check of its format.

Deliberately limited to what OCR output and manual entry get wrong without changing
meaning:

* Unicode NFKC, so full-width forms become ASCII (``４４０１`` → ``4401``, ``Ｘ`` → ``X``);
* whitespace and the separators people type into long numbers (``-``, ``_``, ``.``, middle
  dots) are removed;
* letters are upper-cased (a lowercase ``x`` check character is accepted).

Look-alike characters are **not** corrected (``O`` for ``0``, ``l`` for ``1``): such a
value fails its format check, which is what an auditor wants to see.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["compact", "compact_array"]

#: whitespace (RE2's ``\s`` is ASCII-only, so the Unicode spaces are listed) and separators
_SEPARATORS: Final = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Zs}\x{2028}\x{2029}\-_.·•・‧]+"


def compact(value: str) -> str:
    """``value`` NFKC-normalised, without whitespace or separators, upper-cased.

    One value through :func:`compact_array`, so that single values and whole columns are
    normalised by the very same code.
    """
    result: str = compact_array(pa.array([value], type=pa.string()))[0].as_py()
    return result


def compact_array(values: pa.Array) -> pa.Array:
    """:func:`compact` of every string of an Arrow array, vectorised (nulls stay null)."""
    normal = pc.utf8_normalize(values, form="NFKC")
    bare = pc.replace_substring_regex(normal, pattern=_SEPARATORS, replacement="")
    # once more: dropping a space can bring a combining mark next to a letter
    return pc.utf8_normalize(pc.utf8_upper(bare), form="NFKC")
