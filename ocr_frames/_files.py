"""Output files that may hold personal data: created private (0600) unless asked otherwise.

Parquet outputs, HTML audit reports and cache exports hold names and ID numbers, so they
get the cache's privacy: mode ``0o600`` whatever the umask.  ``file_mode=0o644`` (CLI
``--file-mode 0644``) relaxes it for one call.  The mode is set on the file descriptor
right after creation, before a byte is written, and also when an existing file is
overwritten (``O_TRUNC`` alone would keep the old, perhaps wider, mode).
"""

from __future__ import annotations

import os
from typing import Final

__all__ = [
    "DEFAULT_FILE_MODE",
    "check_file_mode",
    "create_private",
    "parse_file_mode",
    "write_private_text",
]

#: Mode of every file ocr-frames writes that may hold personal data.
DEFAULT_FILE_MODE: Final = 0o600


def check_file_mode(mode: int) -> int:
    """``mode`` if it is a plain permission mode (0 to 0o777), else ConfigurationError."""
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o777:
        from ._errors import ConfigurationError

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
        from ._errors import ConfigurationError

        raise ConfigurationError(
            f"--file-mode takes an octal mode such as 0600 or 0644, not {text!r}"
        )
    return mode


def create_private(path: str | os.PathLike[str], mode: int = DEFAULT_FILE_MODE) -> int:
    """Create (or truncate) ``path`` for writing with exactly ``mode``; return its fd."""
    mode = check_file_mode(mode)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private_text(
    path: str | os.PathLike[str], text: str, mode: int = DEFAULT_FILE_MODE
) -> None:
    """Write ``text`` (UTF-8) to ``path`` created with :func:`create_private`."""
    with os.fdopen(create_private(path, mode), "w", encoding="utf-8") as fh:
        fh.write(text)
