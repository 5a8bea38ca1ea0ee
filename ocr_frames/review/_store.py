"""The reviews file: every decision a person made about a row, kept as data.

Format
    ``OUT.reviews.parquet`` beside the output ``OUT.parquet`` (:func:`reviews_path`), one
    Parquet file with exactly :data:`REVIEWS_SCHEMA` (its metadata says
    ``ocr_frames.reviews: v1``), one row per decision, in the order they were appended.
    ``row`` is the 0-based position of the reviewed row in the output, ``sha256`` and
    ``page`` name the image it held then, so a decision about a row of an older output is
    recognised as such (:func:`ocr_frames.review._apply.apply_reviews` skips it).
    ``decision`` is one of :data:`DECISIONS`; a ``correct`` record sets ``field`` to
    ``new`` (``old`` is what the table said), an ``approve`` / ``reject`` record may name a
    field or not.  ``reviewer`` is the OS user, ``at`` when the decision was made (UTC).
    Records are never changed or removed: a later decision about the same row wins.

Permissions
    The file names people and holds the values they corrected: it is mode ``0o600``
    whatever the umask, like every output (:mod:`ocr_frames._base.files`), and stays so
    because every append writes a new private file.  The lock file beside it
    (``OUT.reviews.parquet.lock``, empty) is 0600 too; neither is ever opened through a
    symlink.

Durability
    :meth:`ReviewLog.append` writes the old records and the new ones to a private
    temporary file beside the target, fsyncs it, renames it over the target and fsyncs the
    folder: once it returns, the records are on disk.  A crash at any point leaves the
    previous file whole (at worst a stray ``.NAME.tmp-*`` file); a record already written
    is never lost.

Concurrency
    An append holds a ``threading.Lock`` (threads of one server: two browser tabs) and an
    exclusive ``flock`` on the lock file (other processes) from reading the old file to
    the rename, so concurrent appends are serialised and none is lost.  Readers take no
    lock: the rename is atomic, so they see the file before or after an append, whole.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Final, TypeAlias

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ocr_frames._base.files import create_private, temporary_beside
from ocr_frames._tables.frames import to_pandas

if sys.platform != "win32":
    import fcntl

__all__ = [
    "DECISIONS",
    "REVIEWS_SCHEMA",
    "Review",
    "ReviewLog",
    "ReviewsLike",
    "current_user",
    "read_reviews",
    "reviews_path",
    "reviews_table",
]

#: What a person can decide about a row.
DECISIONS: Final = ("approve", "reject", "correct")

#: Format version of the reviews file, in its schema metadata.
REVIEWS_VERSION: Final = b"v1"

#: The columns of the reviews file, in order.
REVIEWS_SCHEMA: Final = pa.schema(
    [
        pa.field("row", pa.int64()),
        pa.field("sha256", pa.string()),
        pa.field("page", pa.int32()),
        pa.field("field", pa.string()),
        pa.field("old", pa.string()),
        pa.field("new", pa.string()),
        pa.field("decision", pa.string()),
        pa.field("note", pa.string()),
        pa.field("reviewer", pa.string()),
        pa.field("at", pa.timestamp("us", tz="UTC")),
    ],
    metadata={b"ocr_frames.reviews": REVIEWS_VERSION},
)

#: What :func:`reviews_table` accepts: a reviews file's path, or a table or frame of it.
ReviewsLike: TypeAlias = "pa.Table | pd.DataFrame | str | os.PathLike[str]"

_SUFFIX: Final = ".parquet"
_NO_FOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)


def reviews_path(output: str | os.PathLike[str]) -> Path:
    """Where the reviews of the output ``x/OUT.parquet`` live: ``x/OUT.reviews.parquet``."""
    path = Path(output)
    stem = path.name[: -len(_SUFFIX)] if path.name.endswith(_SUFFIX) else path.name
    return path.with_name(f"{stem}.reviews{_SUFFIX}")


def current_user() -> str:
    """The OS user running this process, or ``"unknown"`` when it has no name."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no passwd entry, no USER: a bare container
        return "unknown"


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclasses.dataclass(frozen=True)
class Review:
    """One decision about one row (the columns of :data:`REVIEWS_SCHEMA`).

    The fields are in the columns' order (``Review(row, sha256, page, field, old, new,
    decision)``); ``reviewer`` defaults to the OS user and ``at`` to now.  Raises
    ValueError when it makes no sense: ``decision`` not in :data:`DECISIONS`, a
    ``correct`` without ``field`` or ``new``, a negative ``row`` or a naive ``at``.
    """

    row: int
    sha256: str | None
    page: int | None
    field: str | None
    old: str | None
    new: str | None
    decision: str
    note: str | None = None
    reviewer: str = dataclasses.field(default_factory=current_user)
    at: datetime = dataclasses.field(default_factory=_now)

    def __post_init__(self) -> None:
        if isinstance(self.row, bool) or not isinstance(self.row, int) or self.row < 0:
            raise ValueError(f"row must be a row number (int >= 0), not {self.row!r}")
        if self.decision not in DECISIONS:
            raise ValueError(
                f"decision must be one of {', '.join(DECISIONS)}, not {self.decision!r}"
            )
        if self.decision == "correct" and not self.field:
            raise ValueError(f"row {self.row}: a correction must name the field it corrects")
        if self.decision == "correct" and self.new is None:
            raise ValueError(f"row {self.row}: a correction of {self.field!r} needs the new value")
        if self.page is not None and (
            isinstance(self.page, bool) or not isinstance(self.page, int)
        ):
            raise ValueError(f"page must be an int or None, not {self.page!r}")
        if not isinstance(self.at, datetime) or self.at.utcoffset() is None:
            raise ValueError(f"at must be a timezone-aware datetime, not {self.at!r}")
        # frozen: normalise through object.__setattr__, once, at construction
        object.__setattr__(self, "at", self.at.astimezone(timezone.utc))


def _to_table(records: Sequence[Review]) -> pa.Table:
    columns = {f.name: [getattr(record, f.name) for record in records] for f in REVIEWS_SCHEMA}
    return pa.table(columns, schema=REVIEWS_SCHEMA)


def _conform(table: pa.Table, what: object) -> pa.Table:
    """``table`` (read from ``what``) with exactly :data:`REVIEWS_SCHEMA`."""
    try:
        return table.select(REVIEWS_SCHEMA.names).cast(REVIEWS_SCHEMA)
    except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(f"{what} is not a table of reviews: {exc}") from exc


def reviews_table(reviews: ReviewsLike) -> pa.Table:
    """``reviews`` (a reviews file's path, or a table or frame of its columns) as an Arrow
    table with exactly :data:`REVIEWS_SCHEMA`; ValueError when a column is missing or
    cannot be cast."""
    if isinstance(reviews, pa.Table):
        return _conform(reviews, "the reviews table")
    if isinstance(reviews, pd.DataFrame):
        return _conform(pa.Table.from_pandas(reviews, preserve_index=False), "the reviews frame")
    return ReviewLog(reviews).read()


class ReviewLog:
    """The reviews file at ``path`` (see the module docstring): append records, read them."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ReviewLog({os.fspath(self.path)!r})"

    def read(self) -> pa.Table:
        """Every record so far, in append order (empty, with the schema, when no file)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | _NO_FOLLOW)
        except FileNotFoundError:
            return REVIEWS_SCHEMA.empty_table()
        with os.fdopen(fd, "rb") as fh:
            return _conform(pq.read_table(fh), self.path)

    def append(self, records: Sequence[Review]) -> None:
        """Add ``records`` at the end of the file, atomically (nothing when empty)."""
        for record in records:
            if not isinstance(record, Review):
                raise TypeError(f"append takes Review records, not {type(record).__name__}")
        if not records:
            return
        batch = _to_table(records)
        with self._thread_lock, self._file_lock():
            combined = pa.concat_tables([self.read(), batch])
            self._replace(combined)

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        if sys.platform == "win32":  # pragma: no cover
            raise OSError("the reviews file needs flock, which Windows does not offer")
        fd = self._open_lock_file()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks until the other writer is done
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _open_lock_file(self) -> int:
        try:
            return create_private(self.lock_path)
        except FileExistsError:  # made by an earlier writer: open it, never via a symlink
            return os.open(self.lock_path, os.O_RDWR | _NO_FOLLOW)

    def _replace(self, table: pa.Table) -> None:
        tmp = temporary_beside(self.path)
        fd = create_private(tmp)  # O_EXCL, 0600: never someone else's file or a symlink
        try:
            with os.fdopen(fd, "wb") as fh:
                pq.write_table(table, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_folder(self.path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; a file system that cannot sync a folder is left as is."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_reviews(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The reviews file at ``path`` as a DataFrame (nullable dtypes; empty when no file)."""
    return to_pandas(ReviewLog(path).read())
