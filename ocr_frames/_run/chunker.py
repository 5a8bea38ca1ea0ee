"""A run's input values → chunks of rows, bounded by rows *and* by bytes held.

A chunk is what a run prepares at once (cache lookup, claims, calls): at most ``rows``
rows and at most ``max_bytes`` bytes of image data (a single row bigger than that gets a
chunk of its own).  A document (PDF, multi-page TIFF) is one row per page and may span
several chunks: its pages are rendered when their chunk is formed, never all at once,
and each page's bytes are let go once it is sent.

Values are read ahead of the chunk being formed, in batches, with a
:class:`~ocr_frames._sources.source.ByteBudget` of ``max_bytes``: a batch reads no more than that
(a value bigger than the budget is read alone), the rest waits for the next batch.  A
document keeps its original bytes (to render from) until its last page is placed, so the
bytes a run holds at once are about: the chunks in flight (``max_bytes`` each), plus
``max_bytes`` read ahead, plus the pages being rendered.

Rows known only by digest (re-encoded in an earlier run, see :mod:`ocr_frames._cache.derived`)
hold nothing; the answers of a batch's such rows are looked up when the batch is read,
and only a value whose answer is missing is read (and its missing pages rendered) again,
when its turn comes, so those bytes are counted too.
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter, deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from ocr_frames._sources.source import POSTPONED, ByteBudget, Pages, Source

__all__ = ["Chunk", "Chunker"]

Answer = dict[str, Any]
#: ``(values, budget, derived)`` → one Source per value (``POSTPONED`` when not read).
Loader = Callable[[list[Any], ByteBudget | None, bool], Awaitable[list[Source]]]
#: keys → (answers in the cache, answers earlier rows of this run already got).
Lookup = Callable[[list[str]], Awaitable[tuple[dict[str, Answer], dict[str, Answer]]]]
KeyOf = Callable[[Source], str | None]

#: Threads rendering pages, the run's own.  One: PDFium rasterises one page at a time
#: anyway, and each thread rendering a 200-dpi page needs ~40 MB more (and its own malloc
#: arena, where freed page buffers linger); two gained nothing measurable on 2 cores.
RENDER_THREADS: Final = 1


@dataclass
class Chunk:
    """Rows ready for a run to prepare, each with the position of its input value."""

    positions: list[int] = field(default_factory=list)
    rows: list[Source] = field(default_factory=list)
    done: int = 0  # input values whose last row is in this chunk
    held: int = 0  # bytes of image data the rows hold
    hits: dict[str, Answer] = field(default_factory=dict)  # answers found in the cache
    known: dict[str, Answer] = field(default_factory=dict)  # answers earlier rows got


class _Entry:
    """One input value on its way into chunks (one per row of a run: kept lean)."""

    __slots__ = ("hits", "known", "page_size", "pages", "position", "reload", "source", "todo")

    def __init__(self, position: int) -> None:
        self.position = position
        self.source: Source | None = None  # None: not read yet
        self.todo: deque[int | Source] | None = None  # a document's rows left (int: render)
        self.pages: Pages | None = None  # renders the numbers in ``todo``
        self.hits: dict[str, Answer] = {}  # answers of its rows known by digest...
        self.known: dict[str, Answer] = {}  # ...in the cache, or got by earlier rows
        self.reload = False  # known by digest, answer missing: read it again
        self.page_size = 0  # largest page rendered so far (to size the next renders)

    @property
    def simple(self) -> bool:
        """One row, bytes (or nothing) at hand: nothing to render or read again."""
        source = self.source
        return (
            source is not None
            and not self.reload
            and source.pages is None
            and source.document is None
        )


class Chunker:
    """Chunks of ``values`` (see the module docstring); iterate :meth:`chunks` once."""

    def __init__(
        self,
        values: Sequence[Any],
        load: Loader,
        lookup: Lookup,
        key: KeyOf,
        *,
        rows: int,
        max_bytes: int,
        render_threads: int = RENDER_THREADS,
    ) -> None:
        self._values = values
        self._load = load
        self._lookup = lookup
        self._key = key
        self._rows = rows
        self._max_bytes = max_bytes
        self._threads = render_threads
        self._renderer: ThreadPoolExecutor | None = None  # started by the first document
        self._queue: deque[_Entry] = deque()
        self._next = 0  # position of the next value not in the queue
        self._postponed = False  # the last batch did not read the first value
        self._users: Counter[int] = Counter()  # entries sharing one document (repeated value)

    async def chunks(self) -> AsyncGenerator[Chunk, None]:
        """The chunks, in input order; documents still open are closed at the end."""
        try:
            while True:
                chunk = Chunk()
                while len(chunk.rows) < self._rows:
                    if not self._queue or self._queue[0].source is None:
                        if not self._queue and self._next >= len(self._values):
                            break
                        await self._read_ahead()
                        continue
                    entry = self._queue[0]
                    if entry.simple:  # most rows: no awaiting
                        assert entry.source is not None
                        if chunk.rows and chunk.held + entry.source.held > self._max_bytes:
                            break
                        self._add(chunk, entry, entry.source)
                    elif not await self._place(entry, chunk):
                        break
                    self._release(self._queue.popleft())
                    chunk.done += 1
                if not chunk.rows:
                    return
                yield chunk
        finally:
            while self._queue:
                self._release(self._queue.popleft())
            if self._renderer is not None:
                self._renderer.shutdown(wait=False, cancel_futures=True)

    async def _read_ahead(self) -> None:
        """Read the next values not read yet, within a byte budget."""
        queue = self._queue
        alone = self._postponed or any(e.source is not None for e in queue)
        while len(queue) < self._rows and self._next < len(self._values):
            queue.append(_Entry(self._next))
            self._next += 1
        unread = [e for e in queue if e.source is None]
        if alone:  # the first one on its own: it cannot be postponed again
            unread = unread[:1]
        held = sum(e.source.held for e in queue if e.source is not None)
        budget = ByteBudget(max(1, self._max_bytes - held))
        sources = await self._load([self._values[e.position] for e in unread], budget, True)
        read = []
        for entry, source in zip(unread, sources, strict=True):
            if source is not POSTPONED:
                entry.source = source
                read.append(entry)
                if source.document is not None:
                    self._users[id(source.document)] += 1
        self._postponed = queue[0].source is None
        await self._resolve(read)

    async def _resolve(self, entries: list[_Entry]) -> None:
        """Look up the answers of rows known only by digest, one query for the batch."""
        keys: dict[str, None] = {}
        for entry in entries:
            keys.update(dict.fromkeys(self._deferred_keys(entry)))
        if not keys:
            return
        hits, known = await self._lookup(list(keys))
        for entry in entries:
            for key in self._deferred_keys(entry):
                if key in hits:
                    entry.hits[key] = hits[key]
                elif key in known:
                    entry.known[key] = known[key]
                else:
                    entry.reload = True

    def _deferred_keys(self, entry: _Entry) -> list[str]:
        source = entry.source
        assert source is not None
        if source.data is not None or not source.ok:  # most rows: nothing to look up
            return []
        parts = source.pages or (source,)
        return [k for part in parts if part.deferred and (k := self._key(part)) is not None]

    async def _place(self, entry: _Entry, chunk: Chunk) -> bool:
        """Add the entry's rows to ``chunk``; False when the chunk is full first."""
        if entry.reload:
            await self._reload(entry)
        source = entry.source
        assert source is not None
        if entry.todo is None and (source.pages or source.document is not None):
            entry.pages = source.document
            if source.pages:
                entry.todo = deque(source.pages)
            else:
                assert source.document is not None
                entry.todo = deque(range(1, source.document.count + 1))
        if entry.todo is None:  # one row
            if chunk.rows and chunk.held + source.held > self._max_bytes:
                return False
            self._add(chunk, entry, source)
            return True
        todo = entry.todo
        while todo:
            if len(chunk.rows) >= self._rows:
                return False
            head = todo[0]
            if isinstance(head, Source):
                if chunk.rows and chunk.held + head.held > self._max_bytes:
                    return False
                todo.popleft()
                self._add(chunk, entry, head)
                continue
            room = self._max_bytes - chunk.held
            if chunk.rows and room < entry.page_size:
                return False
            await self._render(entry, room, self._rows - len(chunk.rows))
        return True

    async def _render(self, entry: _Entry, room: int, rows: int) -> None:
        """Render the next pages of the entry's document (in parallel), in place in its todo."""
        assert entry.todo is not None and entry.pages is not None
        pages, todo = entry.pages, entry.todo
        count = 0
        while count < len(todo) and isinstance(todo[count], int):
            count += 1
        count = min(count, self._threads, rows)
        if entry.page_size:
            count = min(count, max(1, room // entry.page_size))
        numbers = [todo.popleft() for _ in range(count)]
        if self._renderer is None:
            self._renderer = ThreadPoolExecutor(self._threads, thread_name_prefix="ocr-render")
        loop = asyncio.get_running_loop()
        jobs = [
            loop.run_in_executor(self._renderer, functools.partial(pages.render, n))
            for n in numbers
            if isinstance(n, int)
        ]
        rendered = await asyncio.gather(*jobs)
        entry.page_size = max(entry.page_size, *(page.held for page in rendered))
        todo.extendleft(reversed(rendered))

    async def _reload(self, entry: _Entry) -> None:
        """Read a value known by digest again: its answer (or a page's) is not at hand."""
        entry.reload = False
        old = entry.source
        assert old is not None
        (new,) = await self._load([self._values[entry.position]], None, False)
        if new.document is not None:
            self._users[id(new.document)] += 1
        if old.pages and new.document is not None and old.original_sha256 == new.original_sha256:
            # the same document: render only the pages whose answer is missing
            answered = entry.hits.keys() | entry.known.keys()
            entry.todo = deque(
                part if self._key(part) in answered else number
                for number, part in enumerate(old.pages, start=1)
            )
            entry.pages = new.document
        entry.source = new

    def _add(self, chunk: Chunk, entry: _Entry, row: Source) -> None:
        chunk.positions.append(entry.position)
        chunk.rows.append(row)
        chunk.held += row.held
        if row.data is None and row.deferred and (key := self._key(row)) is not None:
            if key in entry.hits:
                chunk.hits[key] = entry.hits[key]
            elif key in entry.known:
                chunk.known[key] = entry.known[key]

    def _release(self, entry: _Entry) -> None:
        """Close the documents this entry was the last user of."""
        if entry.pages is None and _document(entry) is None:  # most rows
            return
        for document in {id(d): d for d in (entry.pages, _document(entry))}.values():
            if document is None:
                continue
            self._users[id(document)] -= 1
            if self._users[id(document)] <= 0:
                del self._users[id(document)]
                document.close()


def _document(entry: _Entry) -> Pages | None:
    return entry.source.document if entry.source is not None else None
