""":class:`BaseEngine`: the synchronous conveniences any engine gets from ``arecognize``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ocr_frames._base.sync import run_sync
from ocr_frames._engine.contract import Answer
from ocr_frames._engine.policy import DEFAULT_CONCURRENCY, CallPool

__all__ = ["BaseEngine"]


class BaseEngine:
    """Sync conveniences for any engine implementing ``arecognize``/``aclose``."""

    @property
    def identity(self) -> str:
        raise NotImplementedError

    async def arecognize(
        self, kind: str, image: bytes | None = None, *, img_url: str | None = None
    ) -> Answer:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None

    def recognize_one(self, image: bytes, kind: str) -> Answer:
        """Recognise one image synchronously (one attempt, no cache, no retries)."""

        async def one() -> Answer:
            try:
                return await self.arecognize(kind, image)
            finally:
                await self.aclose()

        return run_sync(one())

    def recognize_many(
        self, images: Sequence[bytes], kind: str, *, concurrency: int = DEFAULT_CONCURRENCY
    ) -> list[Answer]:
        """Recognise several images concurrently, with retries (no cache)."""

        async def many() -> list[Answer]:
            pool = CallPool(self, kind, concurrency=concurrency)
            try:
                return list(await asyncio.gather(*(pool.call(img) for img in images)))
            finally:
                await self.aclose()

        return run_sync(many())
