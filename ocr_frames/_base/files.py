"""Output files that may hold personal data: created private (0600) unless asked otherwise.

Parquet outputs, HTML audit reports and cache exports hold names and ID numbers, so they
get the cache's privacy: mode ``0o600`` whatever the umask.  ``file_mode=0o644`` (CLI
``--file-mode 0644``) relaxes it for one call.  A file is written under a new, private
temporary name beside the target (``O_EXCL``: never someone else's file, never through a
symlink), its mode set before a byte is written, and renamed over the target only when
complete: an existing output is replaced whole (with our mode), never truncated in place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

from ocr_frames._errors import ConfigurationError

if sys.platform != "win32":
    import fcntl

__all__ = [
    "DEFAULT_FILE_MODE",
    "check_file_mode",
    "create_private",
    "parse_file_mode",
    "private_output",
    "try_flock",
    "write_private_text",
]

#: Mode of every file ocr-frames writes that may hold personal data.
DEFAULT_FILE_MODE: Final = 0o600

#: How a lock held by another open file description fails; any other error means the
#: file system offers no usable ``flock``.
_HELD: Final = frozenset({errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES})


def try_flock(fd: int) -> bool:
    """Lock ``fd`` exclusively if nobody holds it; False when someone does.

    A lock held for a process's life is how ocr-frames tells a live run (or writer) from
    a dead one: the kernel drops it however the process dies, whatever its pid.  Raises
    :class:`OSError` where the file system offers no usable ``flock`` (NFS, Windows).
    """
    if sys.platform == "win32":  # pragma: no cover
        raise OSError(errno.ENOSYS, "no flock on Windows")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in _HELD:
            return False
        raise
    return True


def check_file_mode(mode: int) -> int:
    """``mode`` if it is a plain permission mode (0 to 0o777), else ConfigurationError."""
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o777:
        raise ConfigurationError(
            f"file_mode must be a permission mode such as 0o600 or 0o644, not {mode!r}"
        )
    return mode


def parse_file_mode(text: str) -> int:
    """An octal mode as typed on a command line (``0644``, ``644``, ``0o644``)."""
    try:
        mode = int(text.removeprefix("0o"), 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise ConfigurationError(
            f"--file-mode takes an octal mode such as 0600 or 0644, not {text!r}"
        )
    return mode


def create_private(path: str | os.PathLike[str], mode: int = DEFAULT_FILE_MODE) -> int:
    """Create the NEW file ``path`` (``O_EXCL``, no symlink followed) with exactly ``mode``;
    return its descriptor."""
    mode = check_file_mode(mode)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return fd


def temporary_beside(target: Path) -> Path:
    """A fresh hidden name in ``target``'s folder (``.NAME.tmp-<random>``)."""
    return target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:16]}")


@contextlib.contextmanager
def private_output(
    path: str | os.PathLike[str], mode: int = DEFAULT_FILE_MODE
) -> Iterator[IO[str]]:
    """Write ``path`` atomically with ``mode`` (see the module docstring); UTF-8 text."""
    target = Path(path)
    tmp = temporary_beside(target)
    fd = create_private(tmp, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_private_text(
    path: str | os.PathLike[str], text: str, mode: int = DEFAULT_FILE_MODE
) -> None:
    """Write ``text`` (UTF-8) to ``path`` through :func:`private_output`."""
    with private_output(path, mode) as fh:
        fh.write(text)
