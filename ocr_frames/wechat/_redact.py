"""Keep the access token and the app secret out of messages and log records.

The token travels in the query string (``?access_token=T``) and ``/cgi-bin/token`` takes
the secret there too, so every logged URL would leak them: httpx logs
``HTTP Request: POST https://.../cv/ocr/idcard?access_token=T "HTTP/1.1 200 OK"`` at INFO.
:func:`install_log_redaction` puts a :class:`RedactingFilter` on the ``httpx`` and
``httpcore`` loggers (it is called when a client is created, never at import), and
:func:`redact` is applied to every message the client builds from foreign text.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Final

__all__ = ["REDACTED", "RedactingFilter", "Scrubber", "install_log_redaction", "redact"]

REDACTED: Final = "***"

#: Loggers whose records may carry a request URL.  Filters on a logger only see records
#: logged on that very logger (not on its children), so the children are listed too.
REDACTED_LOGGERS: Final = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)

_NAMES = "access_token|secret|appsecret"
# query strings, form bodies and URL-encoded copies of them (an img_url may embed a URL)
_QUERY_RE: Final = re.compile(rf"(?P<name>{_NAMES})(?P<eq>=|%3D)[^&\s'\"#<>]*", re.I)
# JSON bodies such as the stable_token request: "secret": "value"
_JSON_RE: Final = re.compile(
    rf"(?P<q>[\"'])(?P<name>{_NAMES})(?P=q)(?P<sep>\s*:\s*)(?P<v>[\"'])[^\"']*(?P=v)", re.I
)

_install_lock: Final = threading.Lock()


def redact(text: str) -> str:
    """Replace the value of every ``access_token=``/``secret=`` in ``text`` by ``***``."""
    text = _QUERY_RE.sub(rf"\g<name>\g<eq>{REDACTED}", text)
    return _JSON_RE.sub(rf"\g<q>\g<name>\g<q>\g<sep>\g<v>{REDACTED}\g<v>", text)


class Scrubber:
    """:func:`redact` plus removal of known secret values wherever they appear."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        for value in secrets:
            self.add(value)

    def add(self, value: str | None) -> None:
        """Also hide ``value`` (a token just obtained, say) from now on."""
        # very short values would blank out ordinary words; real tokens are 100+ chars
        if value and len(value) >= 6:
            self._secrets.add(value)

    def __call__(self, text: str) -> str:
        for value in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return redact(text)

    def __repr__(self) -> str:
        return f"Scrubber(<{len(self._secrets)} values>)"


class RedactingFilter(logging.Filter):
    """Format the record's message, redact it, and store it back without args."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: logging itself will report it
            return True
        record.msg = redact(message)
        record.args = ()
        return True


def install_log_redaction(names: Iterable[str] = REDACTED_LOGGERS) -> None:
    """Add one :class:`RedactingFilter` to each named logger (idempotent, thread-safe)."""
    with _install_lock:
        for name in names:
            logger = logging.getLogger(name)
            if not any(isinstance(f, RedactingFilter) for f in logger.filters):
                logger.addFilter(RedactingFilter())
