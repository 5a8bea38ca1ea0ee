"""The WeChat OCR protocol as a server speaks it: routes, tokens, error bodies.

:class:`ProtocolServer` is what the emulator (:class:`ocr_frames.testing.WeChatEmulator`)
and ``ocr-frames serve`` (:class:`ocr_frames.local.LocalServer`) have in common, on top of
the HTTP plumbing of :mod:`ocr_frames._server.loopback`:

* ``GET /cgi-bin/token?grant_type=client_credential&appid=A&secret=S`` and ``POST
  /cgi-bin/stable_token`` (JSON body; ``force_refresh: true`` asks for a new token) issue
  tokens from a :class:`TokenBook`; a non-POST stable_token call answers 43002, a body
  that is not a JSON object 47001, a missing grant_type/appid/secret 40002/41002/41004.
  Which accounts exist is the subclass's business (:meth:`ProtocolServer._credentials`).
* ``/cv/ocr/<kind>`` for the eight kinds: a non-POST call answers 43002; a POST goes to
  the subclass's ``_ocr(kind, request)``.  Any other path is a 404.

Errors are HTTP 200 with ``{"errcode": N, "errmsg": "text rid: ..."}`` (:func:`error_body`),
as on the platform.  A new token retires the older tokens *of its own channel* after a
grace period: the stable channel is isolated from the other one, which is exactly why the
platform recommends it for servers and batch jobs.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

from ocr_frames._server.loopback import LoopbackService, Request, Response
from ocr_frames.kinds import KINDS

__all__ = ["ERRMSG", "JSON", "ProtocolServer", "TokenBook", "error_body"]

JSON: Final = "application/json; charset=utf-8"

ERRMSG: Final = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40013: "invalid appid",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    42001: "access_token expired",
    43002: "require POST method",
    44002: "empty post data",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    101000: "invalid image url",
    101001: "certificate not found",
    101002: "invalid image data",
    101003: "not enough market quota",
}


def error_body(errcode: int | None) -> dict[str, Any]:
    """``{"errcode": N, "errmsg": "text rid: 6xxxxxxx-xxxxxxxx-xxxxxxxx"}``; None means -1.

    Each carries a new random ``rid``, as on the platform.
    """
    code = -1 if errcode is None else errcode
    rid = f"6{secrets.randbits(28):07x}-{secrets.randbits(32):08x}-{secrets.randbits(32):08x}"
    return {"errcode": code, "errmsg": f"{ERRMSG.get(code, 'error')} rid: {rid}"}


@dataclass
class _Token:
    channel: str
    expires_at: float
    invalid_from: float = math.inf
    expired: bool = False

    def error(self, now: float) -> int:
        if now >= self.invalid_from:
            return 40001
        return 42001 if self.expired or now >= self.expires_at else 0


class TokenBook:
    """Every live token, per channel (``"token"``, ``"stable_token"``); not thread-safe:
    the servers call it with their lock held."""

    def __init__(self) -> None:
        self._tokens: dict[str, _Token] = {}
        self._current: dict[str, str] = {}

    def grant(self, channel: str, *, ttl: float, grace: float, force: bool) -> tuple[str, int]:
        """The channel's token and its ``expires_in``: a new one if forced or no longer valid."""
        now = time.monotonic()
        current = self._current.get(channel, "")
        token = self._tokens.get(current)
        if not force and token is not None and token.error(now) == 0:
            return current, math.ceil(token.expires_at - now)
        retire_at = now + grace
        for old in self._tokens.values():
            if old.channel == channel:
                old.invalid_from = min(old.invalid_from, retire_at)
        # a retired token answers 40001 just like one never issued: forget it
        self._tokens = {k: t for k, t in self._tokens.items() if t.invalid_from > now}
        new = secrets.token_urlsafe(96)
        self._tokens[new] = _Token(channel, now + ttl)
        self._current[channel] = new
        return new, max(1, math.ceil(ttl))

    def check(self, access_token: str) -> int:
        """0 for a valid token, else 41001 (missing), 40001 (invalid) or 42001 (expired)."""
        if not access_token:
            return 41001
        token = self._tokens.get(access_token)
        return 40001 if token is None else token.error(time.monotonic())

    def expire_all(self) -> None:
        """Every token issued so far answers 42001 from now on."""
        for token in self._tokens.values():
            token.expired = True
        self._current.clear()

    def invalidate_all(self) -> None:
        """Every token issued so far answers 40001 from now on."""
        self._tokens.clear()
        self._current.clear()


class ProtocolServer(LoopbackService):
    """The protocol's routes and token endpoints; subclasses answer the OCR calls.

    Subclasses set ``token_ttl`` and ``token_grace`` and call :meth:`_init_protocol` in
    ``__init__``; they implement ``async _ocr(kind, request) -> Response`` (called for
    POSTs only) and may override :meth:`_credentials`, :meth:`_token_call` (counting)
    and :meth:`_json` (the content type).  ``_lock`` guards the token book (and whatever
    else the subclass keeps under it).
    """

    token_ttl: float
    token_grace: float

    def _init_protocol(self) -> None:
        self._lock = threading.Lock()
        self._tokens = TokenBook()

    async def _ocr(self, kind: str, request: Request) -> Response:
        raise NotImplementedError

    def _credentials(self, fields: dict[str, Any]) -> int:
        """0 when a token may be issued for these fields, else the platform's errcode.

        Here: any appid and secret (there is no account behind the server).
        """
        if fields.get("grant_type") != "client_credential":
            return 40002
        if not fields.get("appid"):
            return 41002
        return 0 if fields.get("secret") else 41004

    def _token_call(self, channel: str) -> None:
        """Called once per request to a token endpoint, before it is answered."""

    def _json(self, body: dict[str, Any]) -> Response:
        return Response(200, json.dumps(body, ensure_ascii=False).encode(), JSON)

    def _error(self, errcode: int | None) -> Response:
        return self._json(error_body(errcode))

    async def _handle(self, request: Request) -> Response:
        if request.path == "/cgi-bin/token":
            self._token_call("token")
            return self._grant("token", request.query, force=True)
        if request.path == "/cgi-bin/stable_token":
            self._token_call("stable_token")
            if request.method != "POST":
                return self._error(43002)
            try:
                body = json.loads(request.body)
            except ValueError:  # UnicodeDecodeError included
                body = None
            if not isinstance(body, dict):
                return self._error(47001)
            return self._grant("stable_token", body, force=body.get("force_refresh") is True)
        kind = request.path.removeprefix("/cv/ocr/")
        if not request.path.startswith("/cv/ocr/") or kind not in KINDS:
            return Response(404, b"404 page not found\n", "text/plain; charset=utf-8")
        if request.method != "POST":
            return self._error(43002)
        return await self._ocr(kind, request)

    def _grant(self, channel: str, fields: dict[str, Any], *, force: bool) -> Response:
        with self._lock:
            refusal = self._credentials(fields)
            if refusal:
                return self._error(refusal)
            token, expires_in = self._tokens.grant(
                channel, ttl=self.token_ttl, grace=self.token_grace, force=force
            )
        return self._json({"access_token": token, "expires_in": expires_in})
