"""``LocalEngine``: the WeChat OCR answers for all 8 kinds, computed on this machine."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

import httpx
import numpy as np

from ocr_frames._engine.base import BaseEngine
from ocr_frames._errors import E_ENGINE, ConfigurationError
from ocr_frames._sources.download import download
from ocr_frames.kinds import check_kind
from ocr_frames.local import layouts
from ocr_frames.local._confidence import Index, confidences
from ocr_frames.local._ocr import (
    DET_LIMIT,
    TextBox,
    decode_sized,
    get_core,
    model_id,
    rapidocr_version,
)
from ocr_frames.local._orient import map_back
from ocr_frames.local._seal import without_red
from ocr_frames.local._suggest import suggestions

__all__ = ["LAYOUT_VERSION", "LocalEngine"]

log = logging.getLogger("ocr_frames.local")

#: Bumped whenever the processing around the models (detector sizing, layouts) changes
#: what the engine returns, so cached answers of an older version are not reused.
LAYOUT_VERSION: Final = 7

Answer = dict[str, Any]


def _error(errcode: int, errmsg: str) -> Answer:
    return {"errcode": errcode, "errmsg": errmsg, "rid": None}


class LocalEngine(BaseEngine):
    """Offline OCR with rapidocr (PP-OCR models bundled in its wheel) plus per-kind layout
    parsing, answering exactly like the WeChat API (see ``docs/architecture.md``).

    ``workers`` images are recognised at once (each by its own model pipeline, in this
    process's OCR threads, off the event loop); each pipeline uses ``threads`` onnxruntime
    intra-op threads (0: the CPU count divided by ``workers``).  The text detector sees the
    image at 72% of its size, its longer side kept within 736..``det_limit`` pixels;
    ``det_limit=736`` is faster on large photos and misses their small print more often.
    A non-default value is part of :attr:`identity`.  Models are loaded once per process,
    at the first image (or :meth:`warm_up`), and shared by every engine with the same
    settings (for more processes use the ``spawn`` start method: onnxruntime's threads do
    not survive a fork).  ``img_url`` is downloaded from this machine, as the platform
    would.  A page turned by a quarter turn (EXIF tag or none) is read upright, its
    positions given in the image as sent (see :mod:`ocr_frames.local._orient`).

    Answers: errcode 0 with the kind's fields; 101001 when no document of the kind is in
    the image; 101002 for undecodable image data; 44002 for no image at all; 900012 when
    the engine itself failed on the image.  Nothing raises for a per-image problem; a
    missing ``ocr-frames[local]`` install raises :class:`ConfigurationError`.
    """

    def __init__(self, *, workers: int = 1, threads: int = 0, det_limit: int = DET_LIMIT) -> None:
        if workers < 1:
            raise ConfigurationError(f"workers must be >= 1, got {workers}")
        if threads < 0:
            raise ConfigurationError(f"threads must be >= 0, got {threads}")
        if not 320 <= det_limit <= 4096:
            raise ConfigurationError(f"det_limit must be within 320..4096, got {det_limit}")
        self.workers = workers
        self.threads = threads
        self.det_limit = det_limit

    @property
    def identity(self) -> str:
        detector = "" if self.det_limit == DET_LIMIT else f"@{self.det_limit}"
        return f"local:rapidocr-{rapidocr_version()}:{model_id()}{detector}:layout{LAYOUT_VERSION}"

    def __repr__(self) -> str:
        return (
            f"LocalEngine(workers={self.workers}, threads={self.threads}, "
            f"det_limit={self.det_limit})"
        )

    def warm_up(self) -> None:
        """Load the models and the layouts' character tables now instead of at the first
        image."""
        layouts.warm_up()
        self._core().warm_up()

    def _core(self) -> Any:
        try:
            return get_core(workers=self.workers, threads=self.threads, det_limit=self.det_limit)
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ConfigurationError(
                f"the local engine needs the 'local' extra: pip install 'ocr-frames[local]' ({exc})"
            ) from exc

    def recognize_bytes(self, kind: str, data: bytes) -> Answer:
        """One image → one answer, synchronously, in the calling thread."""
        check_kind(kind)
        if not data:
            return _error(44002, "empty post data: no image")
        try:
            image, sent = decode_sized(data)
        except Exception as exc:  # a decoder crash is still just bad image data
            log.debug("image decoding failed", exc_info=exc)
            image = None
        if image is None:
            return _error(101002, "invalid image data")
        core = self._core()
        try:
            # a seal stamped over printed values hides them from the detector
            source = without_red(image) if kind in layouts.SEALED else image
            turns, upright, boxes = core.read_upright(source)
            if source is not image:  # the parser sees the seal (official_seal)
                upright = np.ascontiguousarray(np.rot90(image, turns)) if turns else image
            read_too: list[TextBox] = []  # what parsers read on their own (the seal's ring)

            def read(part: np.ndarray) -> list[TextBox]:
                lines: list[TextBox] = core.read(part)
                read_too.extend(lines)
                return lines

            fields = layouts.parse(kind, boxes, upright, read=read)
            if fields is not None:
                index = Index(boxes, unplaced=read_too)
                fields = confidences(kind, fields, index)
                if suggested := suggestions(kind, fields, index):
                    fields["suggested"] = suggested
            read_size = (int(image.shape[1]), int(image.shape[0]))
            if fields is not None and (turns or read_size != sent):
                # positions in the pixels of the image as sent: upright, full size
                fields = map_back(fields, turns, *read_size, sent=sent)
        except (ConfigurationError, ImportError):
            raise
        except Exception as exc:
            log.warning("local engine failed on one image", exc_info=exc)
            return _error(E_ENGINE, f"local engine failed: {type(exc).__name__}: {exc}")
        if fields is None:
            return _error(101001, "certificate not found")
        return {"errcode": 0, "errmsg": "ok", "rid": None, **fields}

    async def arecognize(
        self, kind: str, image: bytes | None = None, *, img_url: str | None = None
    ) -> Answer:
        check_kind(kind)
        if image is None and img_url:
            image, failure = await _download(img_url)
            if failure is not None:
                return failure
        loop = asyncio.get_running_loop()
        executor = self._core().executor
        return await loop.run_in_executor(executor, self.recognize_bytes, kind, image or b"")

    async def aclose(self) -> None:
        """Nothing to release: the models and their threads belong to the process."""
        return None


async def _download(url: str) -> tuple[bytes, Answer | None]:
    """Fetch ``img_url`` like the platform does; failures are its 101000."""
    async with httpx.AsyncClient(trust_env=False) as client:
        source = await download(url, client=client)
    if source.data is None:
        return b"", _error(101000, f"invalid image url: {source.errmsg}")
    return source.data, None
