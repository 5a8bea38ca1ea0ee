"""Access tokens without I/O: the token requests, their answers, and the cached token.

The clients in :mod:`ocr_frames.wechat` do the HTTP calls and the locking; everything
that decides *what* to send and *what an answer means* lives here, shared by the sync
and the async client.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from ocr_frames._errors import (
    E_BAD_RESPONSE,
    E_TRANSPORT,
    AuthError,
    ConfigurationError,
    OCRError,
    TransportError,
)
from ocr_frames.wechat._parse import INT_RE, split_rid
from ocr_frames.wechat._redact import redact

__all__ = [
    "DEFAULT_REFRESH_MARGIN",
    "DEFAULT_TOKEN_TTL",
    "TokenCache",
    "TokenEndpoint",
    "TokenRequest",
    "parse_token_response",
    "token_request",
]

TokenEndpoint = Literal["stable_token", "token"]

#: Refresh this many seconds before the token expires ...
DEFAULT_REFRESH_MARGIN: Final = 300.0
#: ... or 10% of its lifetime, whichever is shorter (a token may be issued with little left).
REFRESH_FRACTION: Final = 0.1
#: ``expires_in`` when the platform leaves it out.
DEFAULT_TOKEN_TTL: Final = 7200

#: Token-call errors that mean the credentials themselves are wrong.
_BAD_CREDENTIALS: Final = frozenset({40013, 40125})


@dataclass(frozen=True)
class TokenRequest:
    """One token call, ready to be sent by an httpx client."""

    method: str
    path: str
    params: dict[str, str] | None = None
    json: dict[str, Any] | None = None


def token_request(
    endpoint: TokenEndpoint, appid: str, secret: str, *, force_refresh: bool = False
) -> TokenRequest:
    """The request that obtains a token from ``endpoint``.

    ``stable_token`` returns the token in force while it is valid (``force_refresh``
    makes it issue a new one); ``token`` issues a new token on every call and so
    invalidates the one other processes are using.
    """
    if endpoint == "token":
        params = {"grant_type": "client_credential", "appid": appid, "secret": secret}
        return TokenRequest("GET", "/cgi-bin/token", params=params)
    body = {
        "grant_type": "client_credential",
        "appid": appid,
        "secret": secret,
        "force_refresh": force_refresh,
    }
    return TokenRequest("POST", "/cgi-bin/stable_token", json=body)


def parse_token_response(
    status_code: int, body: bytes, scrub: Callable[[str], str] = redact
) -> tuple[str, int]:
    """``(access_token, expires_in)`` from a token call's response, or raise.

    40013/40125 (bad appid/secret) raise :class:`ConfigurationError`; any other errcode
    raises :class:`AuthError` (even -1 or a quota: without a token nothing can be sent);
    HTTP 5xx and unusable bodies raise :class:`TransportError`.  ``scrub`` cleans the
    platform's errmsg before it goes into an exception.
    """
    if status_code >= 500:
        raise TransportError(f"token call failed: HTTP {status_code}", errcode=E_TRANSPORT)
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise _bad_answer("a body that is not a JSON object")
    errcode = _as_int(data.get("errcode"), default=0)
    if errcode is None:
        raise _bad_answer("a non-integer errcode")
    if errcode != 0:
        raise _token_error(errcode, data.get("errmsg"), scrub)
    token = data.get("access_token")
    expires_in = _as_int(data.get("expires_in"), default=DEFAULT_TOKEN_TTL)
    if not isinstance(token, str) or not token:
        raise _bad_answer("no access_token")
    if expires_in is None:
        raise _bad_answer("a non-numeric expires_in")
    return token, expires_in


def _as_int(value: object, *, default: int) -> int | None:
    """``value`` as an int (``default`` when null or absent), or None if it is not one."""
    if value is None:
        return default
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str) and INT_RE.fullmatch(value):
        return int(value)
    return None


def _bad_answer(what: str) -> TransportError:
    return TransportError(f"token call answered {what}", errcode=E_BAD_RESPONSE)


def _token_error(errcode: int, errmsg: object, scrub: Callable[[str], str]) -> OCRError:
    message, rid = split_rid(scrub(errmsg) if isinstance(errmsg, str) else "")
    message = f"token call failed: {message or f'errcode {errcode}'}"
    if errcode in _BAD_CREDENTIALS:
        return ConfigurationError(f"{message} (check appid and secret)", errcode=errcode, rid=rid)
    return AuthError(message, errcode=errcode, rid=rid)


class TokenCache:
    """The token in force and when to stop using it; no I/O, no locking.

    A token is used until ``refresh_margin`` seconds (or 10% of its lifetime, if that is
    shorter) before it expires.
    """

    def __init__(
        self,
        *,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._margin = refresh_margin
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0

    def fresh(self) -> str | None:
        """The cached token if it is not due for refresh yet, else ``None``."""
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        return None

    def store(self, token: str, expires_in: float) -> None:
        margin = min(self._margin, max(expires_in, 0) * REFRESH_FRACTION)
        self._token = token
        self._refresh_at = self._clock() + expires_in - margin

    def clear(self) -> None:
        self._token, self._refresh_at = None, 0.0

    def __repr__(self) -> str:  # never the token itself
        state = "empty" if self._token is None else ("fresh" if self.fresh() else "stale")
        return f"TokenCache(<{state}>)"
