"""What an engine is: the contract every engine meets and the pipeline relies on.

An *engine* turns one image into one answer dict (see ``docs/architecture.md``).  It makes
exactly one attempt per call; everything about *how many* calls run, how fast, and what
happens on a transient failure lives in :mod:`ocr_frames._engine.policy`, so every engine
gets the same bounded concurrency, global rate limit, retries with back-off and quota
handling.

Engine protocol::

    class Engine(Protocol):
        identity: str                         # goes into the cache key; never a secret
        async def arecognize(self, kind, image=None, *, img_url=None) -> dict
        async def aclose(self) -> None

Engines built on :class:`~ocr_frames._engine.base.BaseEngine` also get synchronous
``recognize_one(image, kind)`` and ``recognize_many(images, kind)``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["AUDIT_KEY", "Answer", "Engine", "RunAware"]

Answer = dict[str, Any]


@runtime_checkable
class Engine(Protocol):
    """What the pipeline needs from an OCR engine."""

    @property
    def identity(self) -> str: ...

    async def arecognize(
        self, kind: str, image: bytes | None = None, *, img_url: str | None = None
    ) -> Answer: ...

    async def aclose(self) -> None: ...


#: Key of an answer holding, for a row a composite engine also asked its second engine
#: about (``Cascade(audit_sample=...)``), whether the two agreed on each field
#: (``{field: bool}``); the run summary counts it, no column holds it.
AUDIT_KEY = "audit"


@runtime_checkable
class RunAware(Engine, Protocol):
    """An engine made of engines (:class:`ocr_frames.Cascade`): before its first call, a
    run hands it the answer cache and the run's policy, which it applies to each of its
    own engines' calls (the run then neither rate-limits nor retries the composite's
    calls itself); :attr:`billed_calls` and :attr:`billed` say what was billed."""

    def bind_run(
        self, kind: str, cache: Any, *, concurrency: int, rate_limit: Any, retry: Any
    ) -> None: ...

    def unbind_run(self) -> None: ...

    @property
    def retries(self) -> int: ...

    @property
    def billed_calls(self) -> int: ...

    @property
    def billed(self) -> bool: ...
