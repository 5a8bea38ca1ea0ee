"""Read a local file, named by a path or a ``file://`` URL, into a :class:`Source`.

The file is opened once (with ``O_NONBLOCK``, so a FIFO never makes the open wait) and
checked from its ``fstat`` before it is read: a directory, pipe, socket or device is
``E_NOT_A_FILE``, an empty file ``E_EMPTY``, a file too big to send (or, with
``shrink``, to re-encode) ``E_TOO_LARGE`` without being read.  A file that grows or
shrinks meanwhile is judged by what was read.
"""

from __future__ import annotations

import mmap
import os
import stat
from typing import Final
from urllib.parse import urlsplit
from urllib.request import url2pathname

from ocr_frames._errors import (
    E_BAD_INPUT,
    E_EMPTY,
    E_MISSING,
    E_NOT_A_FILE,
    E_TOO_LARGE,
    E_UNREADABLE,
)
from ocr_frames._sources.finish import finish
from ocr_frames._sources.messages import display_path, display_url, printable, too_large_file
from ocr_frames._sources.source import POSTPONED, Reader, Source, error, over_budget

__all__ = ["load_file_url", "load_path"]

_MB: Final = 1024 * 1024
_MAP_MIN_BYTES: Final = 4 * _MB  # documents this big are read outside the C heap
# O_NONBLOCK: opening a FIFO must not wait for a writer (it is rejected after fstat);
# it has no effect on regular files.  O_BINARY matters on Windows only.
_OPEN_FLAGS: Final = (
    os.O_RDONLY
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_NONBLOCK", 0)
)
_FILE_TYPES: Final = (
    (stat.S_ISDIR, "directory"),
    (stat.S_ISFIFO, "named pipe"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "device"),
    (stat.S_ISBLK, "device"),
)


def load_file_url(url: str, reader: Reader) -> Source:
    """``file:///abs/path`` (or ``file://localhost/...``), percent-decoded, read as a path."""
    parts = urlsplit(url)
    if parts.netloc.lower() not in ("", "localhost"):
        return error(E_BAD_INPUT, f"file:// URL names another host: {display_url(url)}")
    return load_path(url2pathname(parts.path), reader)


def load_path(value: str | os.PathLike[str] | os.PathLike[bytes], reader: Reader) -> Source:
    """Read the file at ``value``; never raises for a problem with that file."""
    max_bytes = reader.read_cap
    try:
        path = os.fspath(value)
    except TypeError:
        return error(E_BAD_INPUT, f"{type(value).__name__!r} value did not give a path")
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        return _open_error(exc, path)
    except (ValueError, UnicodeError) as exc:  # NUL byte, unencodable surrogate
        reason = "contains a NUL byte" if "null" in str(exc) else "cannot be encoded"
        return error(E_UNREADABLE, f"invalid path ({reason}): {display_path(path)}")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            what = _file_type(info.st_mode)
            return error(E_NOT_A_FILE, f"not a regular file ({what}): {display_path(path)}")
        size = info.st_size
        if size == 0:
            return error(E_EMPTY, f"empty file (0 bytes): {display_path(path)}")
        if size >= max_bytes:
            return error(E_TOO_LARGE, too_large_file(size, max_bytes, path))
        if over_budget(reader, size):
            return POSTPONED
        data = _read_document(fd, size, reader) or _read_fd(fd, size, max_bytes)
    except OSError as exc:
        return error(E_UNREADABLE, f"cannot read file ({_reason(exc)}): {display_path(path)}")
    finally:
        os.close(fd)
    if len(data) >= max_bytes:  # grew after fstat
        return error(E_TOO_LARGE, too_large_file(len(data), max_bytes, path))
    if not data:  # shrank after fstat
        return error(E_EMPTY, f"empty file (0 bytes): {display_path(path)}")
    return finish(data, path, reader)


def _read_document(fd: int, size: int, reader: Reader) -> mmap.mmap | None:
    """A big PDF whose pages will be rendered lazily, read into memory mapped for it alone;
    None for anything else (read as usual).

    Not into the C heap: freed by whichever loader thread read it, a 30 MB buffer would
    stay in that thread's malloc arena (glibc returns such holes to the system only when
    they reach its trim threshold), and a batch of documents read by a pool of threads
    would hold one such hole per thread.
    """
    if not (reader.lazy_pages and reader.shrink) or size < _MAP_MIN_BYTES:
        return None
    if not hasattr(os, "readv") or os.pread(fd, 5, 0) != b"%PDF-":
        return None
    buffer = mmap.mmap(-1, size)
    got = 0
    with memoryview(buffer) as view:
        while got < size and (count := os.readv(fd, [view[got:]])):
            got += count
    if got != size or os.read(fd, 1):  # the file changed size meanwhile: read it as usual
        buffer.close()
        os.lseek(fd, 0, os.SEEK_SET)
        return None
    return buffer


def _read_fd(fd: int, size: int, max_bytes: int) -> bytes:
    """Read a whole regular file, normally with one ``read`` call, never past max_bytes."""
    data = os.read(fd, size + 1)  # one byte more than fstat said, to notice growth
    if len(data) == size:
        return data
    chunks = [data]
    total = len(data)
    while total < max_bytes:
        chunk = os.read(fd, min(_MB, max_bytes - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _open_error(exc: OSError, path: str | bytes) -> Source:
    shown = display_path(path)
    if isinstance(exc, FileNotFoundError):
        hint = " (only http:// and https:// URLs are downloaded)" if _looks_like_url(path) else ""
        return error(E_MISSING, f"file not found{hint}: {shown}")
    if isinstance(exc, NotADirectoryError):
        return error(E_MISSING, f"file not found (a parent is not a directory): {shown}")
    if isinstance(exc, IsADirectoryError) or (
        isinstance(exc, PermissionError) and os.path.isdir(path)  # Windows opens no dirs
    ):
        return error(E_NOT_A_FILE, f"not a regular file (directory): {shown}")
    return error(E_UNREADABLE, f"cannot read file ({_reason(exc)}): {shown}")


def _looks_like_url(path: str | bytes) -> bool:
    head = path[:16]
    return "://" in head if isinstance(head, str) else b"://" in head


def _reason(exc: OSError) -> str:
    return printable(exc.strerror or type(exc).__name__).lower()


def _file_type(mode: int) -> str:
    return next((name for test, name in _FILE_TYPES if test(mode)), "special file")
