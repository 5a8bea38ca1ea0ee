"""Load a whole images column: one :class:`~ocr_frames._sources.source.Source` per entry,
in input order, each distinct path or URL read once.

Local values are read in batches on an executor (never on the event loop), fsspec paths
in threads, URLs downloaded concurrently; all three run at the same time.  A problem with
one entry is recorded on its Source, so a batch always comes back whole.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Final, Literal

import httpx

from ocr_frames._errors import E_DOWNLOAD, ConfigurationError
from ocr_frames._http.urlpolicy import DEFAULT_URL_POLICY, UrlPolicy, download_client
from ocr_frames._sources.classify import ValueKind, classify
from ocr_frames._sources.download import download_with
from ocr_frames._sources.limits import (
    DEFAULT_DOWNLOAD_CONCURRENCY,
    DEFAULT_DOWNLOAD_TIMEOUT,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_MAX_SOURCE_BYTES,
    MAX_IMAGE_BYTES,
)
from ocr_frames._sources.messages import display_url
from ocr_frames._sources.read import load_batch, load_classified, load_fsspec
from ocr_frames._sources.source import POSTPONED, ByteBudget, Reader, Source, error

if TYPE_CHECKING:
    from ocr_frames._cache.derived import DerivedStore

__all__ = ["UrlMode", "load_sources"]

UrlMode = Literal["download", "passthrough"]

_BATCH_MAX: Final = 256  # local values handed to one executor job


async def load_sources(
    values: Sequence[object],
    *,
    url_mode: UrlMode = "download",
    client: httpx.AsyncClient | None = None,
    max_bytes: int = MAX_IMAGE_BYTES,
    download_concurrency: int = DEFAULT_DOWNLOAD_CONCURRENCY,
    download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    executor: Executor | None = None,
    shrink: bool = False,
    max_source_bytes: int = DEFAULT_MAX_SOURCE_BYTES,
    derived: DerivedStore | None = None,
    storage_options: Mapping[str, Any] | None = None,
    url_policy: UrlPolicy = DEFAULT_URL_POLICY,
    lazy_pages: bool = False,
    budget: ByteBudget | None = None,
) -> list[Source]:
    """Load a whole column: one :class:`~ocr_frames._sources.source.Source` per value, in
    input order.

    Local files and bytes are read and hashed in batches on ``executor`` (the event
    loop's default thread pool when None) so the loop is never blocked; URLs are
    downloaded concurrently (at most ``download_concurrency`` at a time) with ``client``,
    or with a :func:`~ocr_frames._http.urlpolicy.download_client` created and closed here
    (which honours the usual proxy environment variables).  Every download hop is
    checked against ``url_policy`` (:mod:`ocr_frames._http.urlpolicy`).  Repeated paths and
    URLs are loaded once.
    In ``"passthrough"`` mode URLs are not fetched: they become
    ``Source(data=None, sha256=None, url=value)`` for the platform to download (from
    its own network: the URL policy does not apply).
    With ``shrink``, inputs up to ``max_source_bytes`` are read and re-encoded when the
    platform cannot take them as they are (:mod:`ocr_frames._sources.shrink`); ``derived``
    remembers what was sent for each original, so a rerun skips the re-encoding.
    fsspec paths are read in threads (at most ``download_concurrency`` at a time, each
    within ``download_timeout``) with ``storage_options`` passed to the filesystem.
    With ``lazy_pages``, a document that must be converted (PDF, multi-page TIFF) comes
    back with its pages not rendered yet (``Source.document``).  With a ``budget``,
    values that would overspend it are not read: they come back as
    :data:`~ocr_frames._sources.source.POSTPONED` (see
    :class:`~ocr_frames._sources.source.ByteBudget`).
    """
    if url_mode not in ("download", "passthrough"):
        raise ConfigurationError(f"url_mode must be 'download' or 'passthrough', not {url_mode!r}")
    if download_concurrency < 1:
        raise ConfigurationError("download_concurrency must be at least 1")
    options = (derived, storage_options, lazy_pages, budget, url_policy)
    reader = Reader(max_bytes, shrink, max_source_bytes, *options)
    results: list[Source | None] = [None] * len(values)
    local_values: list[object] = []
    local_kinds: list[ValueKind] = []
    local_slots: list[list[int]] = []
    url_slots: dict[str, list[int]] = {}
    remote_slots: dict[str, list[int]] = {}
    first_slot: dict[object, list[int]] = {}  # dedupe of str/Path values
    for index, value in enumerate(values):
        kind = classify(value)
        if kind == "url":
            assert isinstance(value, str)
            if url_mode == "passthrough":
                results[index] = Source(data=None, sha256=None, url=value)
            else:
                url_slots.setdefault(value, []).append(index)
        elif kind == "fsspec":
            assert isinstance(value, str)
            remote_slots.setdefault(value, []).append(index)
        elif kind == "null" or kind == "invalid":
            results[index] = load_classified(value, kind, reader)
        else:
            slots = first_slot.get(value) if kind == "path" and _hashable(value) else None
            if slots is not None:
                slots.append(index)
                continue
            slots = [index]
            if kind == "path" and _hashable(value):
                first_slot[value] = slots
            local_values.append(value)
            local_kinds.append(kind)
            local_slots.append(slots)

    loaded_local, loaded_urls, loaded_remote = await asyncio.gather(
        _load_local_batches(local_values, local_kinds, reader, executor),
        _download_all(
            list(url_slots),
            client,
            reader=reader,
            concurrency=download_concurrency,
            timeout=download_timeout,
            max_redirects=max_redirects,
            policy=url_policy,
        ),
        _read_remote_all(
            list(remote_slots), reader, executor, download_concurrency, download_timeout
        ),
    )
    for slots, source in zip(local_slots, loaded_local, strict=True):
        for index in slots:
            results[index] = source
    for slots, source in zip(url_slots.values(), loaded_urls, strict=True):
        for index in slots:
            results[index] = source
    for slots, source in zip(remote_slots.values(), loaded_remote, strict=True):
        for index in slots:
            results[index] = source
    loaded = [source for source in results if source is not None]
    if len(loaded) != len(results):  # never hand back a list that is out of step
        raise RuntimeError("load_sources left a value without a Source")
    return loaded


def _hashable(value: object) -> bool:
    return type(value) is str or isinstance(value, PurePath)


async def _load_local_batches(
    values: list[object], kinds: list[ValueKind], reader: Reader, executor: Executor | None
) -> list[Source]:
    if not values:
        return []
    loop = asyncio.get_running_loop()
    # Enough batches to keep every worker busy, few enough that scheduling stays cheap.
    size = max(1, min(_BATCH_MAX, math.ceil(len(values) / 16)))
    jobs = [
        loop.run_in_executor(
            executor, load_batch, values[i : i + size], kinds[i : i + size], reader
        )
        for i in range(0, len(values), size)
    ]
    batches = await asyncio.gather(*jobs)
    return [source for batch in batches for source in batch]


async def _read_remote_all(
    urls: list[str], reader: Reader, executor: Executor | None, concurrency: int, timeout: float
) -> list[Source]:
    """Read fsspec paths in threads, ``concurrency`` at a time, each within ``timeout``
    seconds (a read still hanging then is left to finish in its thread; its row fails)."""
    if not urls:
        return []
    loop = asyncio.get_running_loop()
    semaphore = asyncio.Semaphore(concurrency)

    async def one(url: str) -> Source:
        async with semaphore:
            job = loop.run_in_executor(executor, load_fsspec, url, reader)
            try:
                return await asyncio.wait_for(job, timeout)
            except asyncio.TimeoutError:
                return error(E_DOWNLOAD, f"read timed out after {timeout:g} s: {display_url(url)}")

    return list(await asyncio.gather(*(one(url) for url in urls)))


async def _download_all(
    urls: list[str],
    client: httpx.AsyncClient | None,
    *,
    reader: Reader,
    concurrency: int,
    timeout: float,
    max_redirects: int,
    policy: UrlPolicy,
) -> list[Source]:
    if not urls:
        return []
    if client is None:
        async with download_client(policy, timeout=timeout) as own_client:
            return await _download_all(
                urls,
                own_client,
                reader=reader,
                concurrency=concurrency,
                timeout=timeout,
                max_redirects=max_redirects,
                policy=policy,
            )
    semaphore = asyncio.Semaphore(concurrency)
    http = client

    async def one(url: str) -> Source:
        async with semaphore:
            if reader.budget is not None and reader.budget.spent:
                return POSTPONED
            source = await download_with(url, http, reader, timeout, max_redirects, policy)
            if reader.budget is not None:  # the size is known once read
                reader.budget.add(source.held)
            return source

    return list(await asyncio.gather(*(one(url) for url in urls)))
