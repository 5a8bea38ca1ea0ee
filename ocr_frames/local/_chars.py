"""What the recogniser thought of each character: its probability and its runners-up.

rapidocr decodes the recogniser's CTC output into one text and one mean score per line;
the per-character probabilities and the next-best candidates are computed and then
thrown away.  :func:`keep_candidates` swaps the pipeline's decoder for
:class:`CandidateDecoder`, which calls rapidocr's own decoder (so texts and scores are
unchanged, byte for byte) and hands back each text as a :class:`Read`: a ``str`` that also
carries, for each of its characters, the probability of the character chosen and up to
:data:`ALTERNATIVES` runners-up at the same CTC step, plus the best
:data:`ASCII_ALTERNATIVES` digits or Latin letters.  The field confidences
(:mod:`._confidence`) and the checksum suggestions (:mod:`._suggest`) are built on them.

A ``str`` subclass travels through rapidocr untouched (it only indexes and filters its
lists of texts); ``tests/local/test_trust.py`` checks that it still does, since a
rapidocr release that rebuilt the strings would silently drop the probabilities (the
engine then reports no confidence rather than a wrong one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np

__all__ = ["ALTERNATIVES", "CandidateDecoder", "Char", "Read", "keep_candidates"]

#: Runners-up kept per character (the suggestions try them in order).
ALTERNATIVES: Final = 2
#: Runners-up kept per character among digits and capital Latin letters alone: the numbers with
#: a check character are written in them, and the best such reading of a smudged digit
#: may rank below punctuation or a CJK character overall.
ASCII_ALTERNATIVES: Final = 3
_ASCII: Final = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
#: A runner-up below this probability is not kept: it is noise, not a candidate.
MIN_ALTERNATIVE: Final = 1e-4

#: One character as read: (probability of the character chosen, ((runner-up, its
#: probability), ...)), probabilities from the recogniser's softmax at that CTC step.
Char = tuple[float, tuple[tuple[str, float], ...]]


class Read(str):
    """A recognised text with, for each of its characters, a :data:`Char`."""

    chars: tuple[Char, ...]

    def __new__(cls, text: str, chars: Sequence[Char]) -> Read:
        self = super().__new__(cls, text)
        self.chars = tuple(chars)
        return self


def _chars(
    probs: np.ndarray, steps: np.ndarray, table: Sequence[str], ascii_classes: np.ndarray
) -> list[Char]:
    """The :data:`Char` of each kept CTC step (``probs``: steps x classes)."""
    at_steps = probs[steps]
    chosen = at_steps.argmax(axis=1)
    k = min(ALTERNATIVES + 2, at_steps.shape[1])  # room for the choice and the blank
    tops = np.argpartition(-at_steps, k - 1, axis=1)[:, :k]
    ascii_probs = at_steps[:, ascii_classes]
    k_ascii = min(ASCII_ALTERNATIVES + 1, len(ascii_classes))
    ascii_tops = ascii_classes[np.argsort(-ascii_probs, axis=1)[:, :k_ascii]]
    out: list[Char] = []
    for row, best, top, ascii_top in zip(at_steps, chosen, tops, ascii_tops, strict=True):
        ranked = sorted(top.tolist(), key=lambda c: -row[c])
        overall = [c for c in ranked if c not in (0, best) and row[c] >= MIN_ALTERNATIVE]
        extra = [c for c in ascii_top.tolist() if c != best and c not in overall]
        kept = overall[:ALTERNATIVES] + extra[:ASCII_ALTERNATIVES]
        alternatives = tuple((table[c], round(float(row[c]), 7)) for c in kept)
        out.append((round(float(row[best]), 5), alternatives))
    return out


class CandidateDecoder:
    """rapidocr's CTC decoder, returning :class:`Read` texts (see the module docstring)."""

    def __init__(self, decoder: Any) -> None:
        self.decoder = decoder
        self.character: list[str] = decoder.character  # index → character, 0 = blank
        self.ascii_classes = np.array(
            [i for i, c in enumerate(self.character) if c in _ASCII and i], dtype=np.intp
        )

    def __call__(
        self, preds: np.ndarray, return_word_box: bool = False, **kwargs: Any
    ) -> tuple[list[tuple[str, float]], list[Any]]:
        lines, words = self.decoder(preds, return_word_box, **kwargs)
        index = preds.argmax(axis=2)
        out: list[tuple[str, float]] = []
        for row, (text, score) in enumerate(lines):
            tokens = index[row]
            keep = np.ones(len(tokens), dtype=bool)
            keep[1:] = tokens[1:] != tokens[:-1]  # CTC: repeats merge, blanks (0) drop
            keep &= tokens != 0
            steps = np.flatnonzero(keep)
            if len(steps) == len(text):
                chars = _chars(preds[row], steps, self.character, self.ascii_classes)
                text = Read(text, chars)
            out.append((text, score))
        return out, words


def keep_candidates(pipeline: Any) -> bool:
    """Give ``pipeline`` (a loaded RapidOCR) the :class:`CandidateDecoder`; False when
    this rapidocr has no recogniser decoder where expected (then no line has chars)."""
    load = getattr(pipeline, "_load_rec_model", None)  # rapidocr loads it at first use
    recogniser: Any = load() if callable(load) else getattr(pipeline, "text_rec", None)
    decoder = getattr(recogniser, "postprocess_op", None)
    if decoder is None or not hasattr(decoder, "character"):
        return False
    if not isinstance(decoder, CandidateDecoder):
        recogniser.postprocess_op = CandidateDecoder(decoder)
    return True
