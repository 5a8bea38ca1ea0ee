"""What one run did: :class:`RunSummary`, its one-line text and its dict form."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ocr_frames._engine.contract import AUDIT_KEY
from ocr_frames._errors import QuotaExceeded, error_for_code
from ocr_frames.kinds import ANSWERED_BY, ESCALATED_BECAUSE

__all__ = ["FirstError", "RunSummary"]


@dataclass
class RunSummary:
    """What one run did; ``line()`` is the CLI's one-line summary.

    ``billed_calls`` counts every call made to the engine, retries included: what the
    WeChat platform bills.  An engine that bills nothing (the local engine, a custom one)
    makes as many calls; :meth:`line` then says "engine calls".
    """

    kind: str
    engine: str
    rows: int = 0
    ok: int = 0
    errors: Counter[int] = field(default_factory=Counter)
    cache_hits: int = 0
    duplicates: int = 0
    billed_calls: int = 0
    retries: int = 0
    not_done: int = 0
    stopped: str | None = None
    elapsed: float = 0.0
    output: str | None = None
    #: whether the calls counted are billed, when the engine says (a ``Cascade``)
    paid: bool | None = None
    #: a ``Cascade``'s routing: rows per engine that answered, rows escalated and why,
    #: and per field [agreed, compared] on the audited rows
    answered_by: Counter[str] = field(default_factory=Counter)
    escalated: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    audit: dict[str, list[int]] = field(default_factory=dict)

    def note_route(self, answer: Mapping[str, Any]) -> None:
        """Count a row's routing (:data:`~ocr_frames.kinds.ANSWERED_BY` ...), if any."""
        by = answer.get(ANSWERED_BY)
        if not isinstance(by, str):
            return
        self.answered_by[by] += 1
        because = answer.get(ESCALATED_BECAUSE)
        if isinstance(because, list) and because:
            self.escalated += 1
            self.reasons.update(str(r) for r in because)
        audit = answer.get(AUDIT_KEY)
        if isinstance(audit, dict):
            for name, agreed in audit.items():
                counts = self.audit.setdefault(str(name), [0, 0])
                counts[0] += bool(agreed)
                counts[1] += 1

    @property
    def cascade(self) -> dict[str, Any] | None:
        """What a ``Cascade`` did (None for another engine): ``answered_by``,
        ``escalated``, ``reasons``, ``audited`` rows and ``agree_rate`` per field."""
        if not self.answered_by:
            return None
        audited = max((n for _, n in self.audit.values()), default=0)
        return {
            "answered_by": dict(self.answered_by.most_common()),
            "escalated": self.escalated,
            "reasons": dict(self.reasons.most_common()),
            "audited": audited,
            "agree_rate": {
                name: round(agreed / n, 4) for name, (agreed, n) in sorted(self.audit.items())
            },
        }

    @property
    def billed(self) -> bool:
        """Whether the engine's calls are billed: the WeChat platform (or a gateway or
        emulator speaking its protocol, identity ``wechat@...``)."""
        if self.paid is not None:
            return self.paid
        return self.engine.partition("@")[0] == "wechat"

    @property
    def calls_label(self) -> str:
        """What :attr:`billed_calls` counts, in words: "billed calls" or "engine calls"."""
        return "billed calls" if self.billed else "engine calls"

    def line(self) -> str:
        errs = ", ".join(f"{code}×{n}" for code, n in sorted(self.errors.items())) or "none"
        calls = self.calls_label
        text = (
            f"{self.rows} rows: {self.ok} ok, errors {errs}; {self.cache_hits} cache hits, "
            f"{self.duplicates} duplicates, {self.billed_calls} {calls} "
            f"({self.retries} retries) in {self.elapsed:.1f}s"
        )
        if self.answered_by:
            routes = ", ".join(f"{n} {by}" for by, n in self.answered_by.most_common())
            text += f"; answered by {routes} ({self.escalated} escalated)"
        if self.stopped:
            text += f"; STOPPED: {self.stopped} ({self.not_done} rows not done)"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "engine": self.engine,
            "rows": self.rows,
            "ok": self.ok,
            "errors": {str(k): v for k, v in sorted(self.errors.items())},
            "cache_hits": self.cache_hits,
            "duplicates": self.duplicates,
            "billed_calls": self.billed_calls,
            "retries": self.retries,
            "not_done": self.not_done,
            "stopped": self.stopped,
            "elapsed": round(self.elapsed, 3),
            **({"cascade": self.cascade} if self.answered_by else {}),
        }


class FirstError:
    """The first row error of a run's output, noted chunk by chunk (``on_error="raise"``)."""

    def __init__(self) -> None:
        self._rows = 0
        self._first: tuple[int, int, str] | None = None  # (output row, errcode, errmsg)

    def note(self, table: pa.Table) -> None:
        """Look at the next chunk of output rows."""
        if self._first is None:
            at = pc.index(pc.not_equal(table.column("errcode"), 0), True).as_py()
            if at >= 0:
                row = table.slice(at, 1).to_pylist()[0]
                self._first = (self._rows + at, int(row["errcode"]), str(row["errmsg"]))
        self._rows += table.num_rows

    def raise_first(self, summary: RunSummary, index: pd.Index | None = None) -> None:
        """Raise QuotaExceeded for a stopped run, else the first row error (its row named
        by ``index``, else by its position), if any."""
        if summary.stopped:
            raise QuotaExceeded(summary.line())
        if self._first is None:
            return
        row, code, message = self._first
        exc = error_for_code(code, message)
        where = index[row] if index is not None else row
        failed = summary.rows - summary.ok
        exc.message = (
            f"{failed} of {summary.rows} rows failed; first at index {where!r}: {exc.message}"
        )
        raise exc
