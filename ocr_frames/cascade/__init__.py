"""Cascade: pay the paid engine only for what the free one cannot read with confidence.

>>> engine = of.Cascade(of.local.LocalEngine(), of.WeChatEngine.from_env())  # doctest: +SKIP
>>> df = of.recognize(paths, "idcard", engine=engine)                          # doctest: +SKIP
>>> df[["answered_by", "escalated_because"]]                                  # doctest: +SKIP

:class:`Cascade` is an engine like any other.  Each image goes to ``first``; its answer is
judged as ``needs_review`` judges a row (:mod:`ocr_frames.checks`): an error, a field
whose confidence is below ``escalate_below``, a failing check (the checks of one row: the
duplicate checks need the whole table and are left out), and with ``quality=True`` (off
by default, see :data:`DEFAULT_QUALITY`) a quality warning of the image.  Left out as
well: what a second reading cannot change, the document's expiry (``check_not_expired``,
see ``CheckInfo.reread``) and where its image comes from (a copy, a screen photo, an
editor: ``PROVENANCE_WARNINGS``); those rows still need review by a person.  A row
with any of these reasons goes to ``then``, and the answer of ``then`` is kept (the one
of ``first`` when ``then`` fails on it).  ``escalate``, a
callable taking that judged row (a pandas Series of the kind's columns with ``check_*``,
``warn_*`` and ``review_reasons``) and returning a bool, replaces the rule for the rows
``first`` did read (an error answer always goes on: there is nothing to keep).  Name it
(``rule_name=``) so that a rerun with the same rule finds its rows in the run's cache; an
unnamed rule gets a name of its own per ``Cascade`` object, since two lambdas cannot be
told apart (its rows are judged again on a rerun, from the engines' cached answers, for
free).

Every answer carries ``answered_by`` (the short name of the engine whose answer it is:
``local``, ``wechat``...) and ``escalated_because`` (the reasons; empty when not).

Caching: inside a run, each engine's answers are cached under that engine's own identity
(the run hands the cascade its cache, see :meth:`Cascade.bind_run`), so a rerun with
another threshold pays only for the images newly escalated.  The run's own policy (rate
limit, retries) applies to each engine's calls through a pool per engine: the rate limit
(also a Dask cluster's ``GlobalRateLimit``) to ``then``'s calls only, the billed ones.

``audit_sample``: that fraction of the rows *not* escalated also goes to ``then``, chosen
by a hash of the image and ``seed`` (the same images on every run); the rows keep the
answer of ``first``, and the run summary's ``cascade`` (``df.attrs["ocr_frames"]``) gives,
per field, how often the two engines agreed (``agree_rate``), with the rows per engine
and the reasons for escalating.

``then=None`` is a dry run: nothing is sent anywhere but ``first``; the rows that would be
escalated say so in ``escalated_because`` and the summary counts them.
"""

from __future__ import annotations

import asyncio
import hashlib
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Final

import pandas as pd

from ocr_frames._cache.store import ResultCache
from ocr_frames._engine.contract import AUDIT_KEY, Answer, Engine
from ocr_frames._engine.policy import DEFAULT_CONCURRENCY, CallPool, Limiter, RetryPolicy
from ocr_frames._errors import CACHEABLE_CODES, ConfigurationError
from ocr_frames._quality.assess import PROVENANCE_WARNINGS, assess
from ocr_frames._run.quality import quality_columns
from ocr_frames._tables.flatten import to_arrow
from ocr_frames._tables.frames import to_pandas
from ocr_frames.checks import CHECKS, add_checks, add_review
from ocr_frames.kinds import ANSWERED_BY, ESCALATED_BECAUSE, spec

__all__ = ["DEFAULT_ESCALATE_BELOW", "DEFAULT_QUALITY", "Cascade", "short_name"]

#: a field confidence below it escalates the row.  Chosen on the evaluation set's tuning
#: split (``python -m bench.cascade --split tune --per-kind 10``) as the threshold with the
#: lowest bill whose field exact-match stays within 0.5 points of WeChat-only: 0.8 bills
#: 12.9% of WeChat-only's calls at -0.29 points (0.9: 21.2% at -0.04; 0.5: 5.8% at -0.78).
#: A person reviewing rows keeps ``review_threshold`` 0.9: a look costs more than a call.
DEFAULT_ESCALATE_BELOW: Final = 0.8
#: whether quality warnings escalate by default: no.  On the evaluation set's tuning split
#: (``python -m bench.cascade --split tune --per-kind 10``) they raised the bill from 21%
#: to 32% of WeChat-only's calls and made no field right that confidence and checks had
#: not already sent on (99.96% either way); see BENCHMARKS.md, "Cascade"
DEFAULT_QUALITY: Final = False
#: checks that compare rows with each other: not a property of one image
_TABLE_CHECKS: Final = (
    "check_image_unique",
    "check_image_group",
    "check_number_unique",
    "check_number_group",
)

Escalate = Callable[["pd.Series[Any]"], bool]


def short_name(engine: Engine) -> str:
    """``local``, ``wechat``...: an engine's identity up to its first ``:`` or ``@``."""
    identity = engine.identity
    for sep in (":", "@", "["):
        identity = identity.split(sep, 1)[0]
    return identity or "engine"


def _same(a: object, b: object) -> bool:
    """Two values read for one field agree: equal after NFKC with spaces removed."""

    def norm(v: object) -> str:
        return "".join(unicodedata.normalize("NFKC", str(v)).split()) if v is not None else ""

    return norm(a) == norm(b)


class Cascade:
    """An engine that asks ``first`` and escalates the rows it is unsure of to ``then``
    (see the module docstring)."""

    def __init__(
        self,
        first: Engine,
        then: Engine | None,
        *,
        escalate: Escalate | None = None,
        escalate_below: float = DEFAULT_ESCALATE_BELOW,
        checks: bool = True,
        quality: bool = DEFAULT_QUALITY,
        audit_sample: float = 0.0,
        seed: int = 0,
        as_of: date | None = None,
        rule_name: str | None = None,
    ) -> None:
        if not 0.0 <= escalate_below <= 1.0:
            raise ValueError(f"escalate_below must be within 0 and 1, got {escalate_below}")
        if not 0.0 <= audit_sample <= 1.0:
            raise ValueError(f"audit_sample must be within 0 and 1, got {audit_sample}")
        self.first, self.then = first, then
        self.escalate, self.escalate_below = escalate, escalate_below
        # what names the rule in the identity (the run's cache key): see the docstring
        self.rule_name = rule_name or (f"unnamed-{uuid.uuid4().hex}" if escalate else "")
        self.checks, self.quality = checks, quality
        self.audit_sample, self.seed, self.as_of = audit_sample, seed, as_of
        self._cache: Any = None
        self._pools: dict[str, tuple[CallPool, CallPool | None]] = {}
        self._policy: dict[str, Any] = {}
        self._bound = False

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (Dask sends engines to its workers): without the run's cache and pools,
        which belong to one process and one event loop; the next run binds new ones."""
        return {**self.__dict__, "_cache": None, "_pools": {}, "_policy": {}, "_bound": False}

    # --- the engine protocol ---------------------------------------------------------------

    @property
    def identity(self) -> str:
        rule = self.rule_name
        then = self.then.identity if self.then is not None else "dry-run"
        parts = [
            f"below={self.escalate_below:g}",
            f"checks={int(self.checks)}",
            f"quality={int(self.quality)}",
            f"audit={self.audit_sample:g}/{self.seed}",
            *([f"as_of={self.as_of.isoformat()}"] if self.as_of else []),
            *([f"rule={rule}"] if rule else []),
        ]
        return f"cascade[{self.first.identity}>{then};{','.join(parts)}]"

    async def arecognize(
        self, kind: str, image: bytes | None = None, *, img_url: str | None = None
    ) -> Answer:
        first_pool, then_pool = self._pool(kind)
        digest = hashlib.sha256(image).hexdigest() if image is not None else None
        answer = await self._ask(first_pool, self.first, kind, digest, image, img_url)
        reasons = await asyncio.to_thread(self.reasons, kind, answer, image)
        if not reasons:
            kept = {**answer, ANSWERED_BY: short_name(self.first), ESCALATED_BECAUSE: []}
            if self._audited(digest):
                agreed = await self._audit(then_pool, kind, digest, image, img_url, answer)
                if (spent := self._spent(then_pool)) is not None:
                    return spent
                if agreed is not None:
                    kept[AUDIT_KEY] = agreed
            return kept
        if then_pool is None or self.then is None:  # a dry run: what would be escalated
            return {**answer, ANSWERED_BY: short_name(self.first), ESCALATED_BECAUSE: reasons}
        paid = await self._ask(then_pool, self.then, kind, digest, image, img_url)
        if (spent := self._spent(then_pool)) is not None:
            return spent  # the paid engine's quota: the run stops, as a WeChat run does
        code = _code(paid)
        if code in CACHEABLE_CODES and code != 0 and _code(answer) == 0:
            # then found no document where first read one: keep what first read (the
            # reasons say why it was asked about)
            return {**answer, ANSWERED_BY: short_name(self.first), ESCALATED_BECAUSE: reasons}
        # then's answer, or its passing failure (network, system error): not cached, so
        # the row is asked about again on the next run
        return {**paid, ANSWERED_BY: short_name(self.then), ESCALATED_BECAUSE: reasons}

    @staticmethod
    def _spent(pool: CallPool | None) -> Answer | None:
        """The quota answer once the paid engine's pool stopped for a spent quota (the
        outer run then stops too), else None."""
        if pool is None or pool.stopped is None:
            return None
        return {"errcode": pool.stopped.errcode, "errmsg": pool.stopped.message}

    async def aclose(self) -> None:
        await self.first.aclose()
        if self.then is not None:
            await self.then.aclose()

    # --- the run's hooks -------------------------------------------------------------------

    def bind_run(
        self,
        kind: str,
        cache: Any,
        *,
        concurrency: int,
        rate_limit: float | Limiter | None,
        retry: RetryPolicy,
    ) -> None:
        """Called by a run before its first call: the answer cache (each engine's answers
        are kept there under its own identity), and the run's policy, applied to each
        engine's calls (the rate limit to ``then``'s only)."""
        if self._bound:
            raise ConfigurationError(
                "this Cascade is in use by another run: give each concurrent run its own"
            )
        self._bound = True
        self._cache = cache if isinstance(cache, ResultCache) else None
        self._policy = {"concurrency": concurrency, "rate_limit": rate_limit, "retry": retry}
        self._pools = {}
        self._pool(kind)

    def unbind_run(self) -> None:
        """Called by the run at its end: the cascade may serve another run."""
        self._bound = False
        self._cache = None

    @property
    def billed_calls(self) -> int:
        """Calls made to ``then`` in this run, retries included (what it bills)."""
        return sum(then.attempts for _, then in self._pools.values() if then is not None)

    @property
    def retries(self) -> int:
        """Retries of both engines' calls in this run."""
        return sum(
            first.retries + (then.retries if then is not None else 0)
            for first, then in self._pools.values()
        )

    @property
    def billed(self) -> bool:
        """Whether ``then`` bills its calls (the WeChat platform or a gateway to it)."""
        return self.then is not None and short_name(self.then) == "wechat"

    # --- judging ---------------------------------------------------------------------------

    def judged(self, kind: str, answer: Mapping[str, Any], image: bytes | None) -> pd.Series:
        """The row of ``answer`` as ``needs_review`` sees it: the kind's columns, the
        checks of one row, the quality warnings of ``image``, ``review_reasons``."""
        table = to_arrow(kind, [answer])
        if self.quality:
            table = quality_columns(table, kind, [assess(image) if image is not None else None])
        frame = to_pandas(table)
        if self.checks:
            frame = add_checks(frame, kind, as_of=self.as_of)
            frame = frame.drop(columns=[c for c in _TABLE_CHECKS if c in frame.columns])
        reviewed = add_review(frame, threshold=self.escalate_below)
        row: pd.Series = reviewed.iloc[0]
        return row

    def reasons(self, kind: str, answer: Mapping[str, Any], image: bytes | None) -> list[str]:
        """Why ``answer`` goes to ``then``: ``review_reasons`` of :meth:`judged` (empty:
        it does not); with ``escalate``, its verdict decides for an answer that is not an
        error (an error always goes on)."""
        if _code(answer) != 0:
            return [f"errcode {_code(answer)}"]
        row = self.judged(kind, answer, image)
        found = [r for r in map(str, row.get("review_reasons") or []) if _rereadable(r)]
        if self.escalate is None:
            return found
        try:
            verdict = bool(self.escalate(row))
        except Exception as exc:  # a rule that fails on a row (a missing value): escalate
            return [f"escalate rule failed: {type(exc).__name__}"]
        if not verdict:
            return []
        return found or ["escalate"]

    # --- calls -----------------------------------------------------------------------------

    def _pool(self, kind: str) -> tuple[CallPool, CallPool | None]:
        if kind not in self._pools:
            policy = self._policy or {
                "concurrency": DEFAULT_CONCURRENCY,
                "rate_limit": None,
                "retry": None,
            }
            first = CallPool(
                self.first, kind, concurrency=policy["concurrency"], retry=policy["retry"]
            )
            then = CallPool(self.then, kind, **policy) if self.then is not None else None
            self._pools[kind] = (first, then)
        return self._pools[kind]

    async def _ask(
        self,
        pool: CallPool,
        engine: Engine,
        kind: str,
        digest: str | None,
        image: bytes | None,
        img_url: str | None,
    ) -> Answer:
        """``engine``'s answer: from the cache under its own identity, else a call."""
        key = ResultCache.key(digest, kind, engine.identity) if digest is not None else None
        if key is not None and self._cache is not None:
            found = await asyncio.to_thread(self._cache.get, key)
            if found is not None:
                return dict(found)
        answer = await pool.call(image, img_url=img_url)
        if key is not None and self._cache is not None and _code(answer) in CACHEABLE_CODES:
            await asyncio.to_thread(self._cache.set, key, answer)
        return answer

    def _audited(self, digest: str | None) -> bool:
        if self.then is None or self.audit_sample <= 0 or digest is None:
            return False
        ticket = hashlib.sha256(f"{self.seed}:{digest}".encode()).digest()
        return int.from_bytes(ticket[:8], "big") < self.audit_sample * 2**64

    async def _audit(
        self,
        pool: CallPool | None,
        kind: str,
        digest: str | None,
        image: bytes | None,
        img_url: str | None,
        answer: Mapping[str, Any],
    ) -> dict[str, bool] | None:
        """Ask ``then`` about a row kept from ``first``: per field, whether they agree
        (fields both left empty are not compared); None when ``then`` gave no answer."""
        if pool is None or self.then is None:
            return None
        paid = await self._ask(pool, self.then, kind, digest, image, img_url)
        if _code(paid) not in CACHEABLE_CODES:
            return None  # no answer to compare with (a failure, a spent quota)
        if _code(paid) != 0:
            paid = {}  # then found no document: every field first read disagrees
        return {
            name: _same(answer.get(name), paid.get(name))
            for name in spec(kind).confidence_fields
            if answer.get(name) not in (None, "") or paid.get(name) not in (None, "")
        }


def _rereadable(reason: str) -> bool:
    """Whether another engine's reading may clear ``reason``: not the expiry of the
    document (``CheckInfo.reread``), nor where its image comes from
    (:data:`~ocr_frames._quality.assess.PROVENANCE_WARNINGS`)."""
    if reason in PROVENANCE_WARNINGS:
        return False
    info = CHECKS.get(reason)
    return info is None or info.reread


def _code(answer: Mapping[str, Any]) -> int:
    try:
        return int(answer.get("errcode", 0))
    except (TypeError, ValueError):
        return -1
