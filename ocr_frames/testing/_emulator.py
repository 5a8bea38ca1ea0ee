"""The emulated platform: accounts, quotas, faults, quirks and answers.

The protocol itself (routes, token endpoints, error bodies) is
:class:`ocr_frames._server.protocol.ProtocolServer`, shared with ``ocr-frames serve``.

Everything the tests may read or switch from another thread (counters, tokens, quotas,
faults) sits behind one ``threading.Lock``; the answers themselves are computed on the
server's event loop, so ``latency`` is an ``asyncio.sleep`` that many requests wait out
together.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import time
from collections import Counter
from typing import Any, Final

from ocr_frames._server.images import ImageReader, sha256_of
from ocr_frames._server.loopback import HTTPServerThread, Request, Response
from ocr_frames._server.protocol import JSON, ProtocolServer, error_body
from ocr_frames._sources.limits import MAX_IMAGE_BYTES
from ocr_frames._sources.sniff import is_image
from ocr_frames.kinds import check_kind
from ocr_frames.testing._answers import fallback_answer
from ocr_frames.testing._faults import Fault, FaultPlan

__all__ = [
    "DEFAULT_APPID",
    "DEFAULT_HOST",
    "DEFAULT_SECRET",
    "DEFAULT_TOKEN_TTL",
    "MINUTE_WINDOW",
    "QUIRKS",
    "WeChatEmulator",
]

DEFAULT_APPID: Final = "wx0000000000000000"
#: Not a secret: the emulator's made-up credential, printed by ``serve``.
DEFAULT_SECRET: Final = "emulator-fake-secret"
DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_TOKEN_TTL: Final = 7200.0
#: Length of the window the minute quota counts in, in seconds.
MINUTE_WINDOW: Final = 60.0
#: Names accepted by :attr:`WeChatEmulator.quirks`.
QUIRKS: Final = frozenset({"bankcard_id", "string_errcode", "text_plain", "vhicle_type"})


class WeChatEmulator(ProtocolServer):
    """A loopback WeChat OCR platform; see :mod:`ocr_frames.testing` for the behaviour."""

    _what = "emulator"

    def __init__(
        self,
        *,
        appid: str = DEFAULT_APPID,
        secret: str = DEFAULT_SECRET,
        host: str = DEFAULT_HOST,
        port: int = 0,
        latency: float = 0.0,
        jitter: float = 0.0,
        token_ttl: float = DEFAULT_TOKEN_TTL,
        token_grace: float = 0.0,
        minute_quota: int | None = None,
        daily_quota: int | None = None,
        market_quota: int | None = None,
        quirks: frozenset[str] | set[str] = frozenset(),
        seed: int = 0,
    ) -> None:
        self.appid = appid
        self.secret = secret
        self.host = host
        self.latency = latency
        self.jitter = jitter
        self.token_ttl = token_ttl
        self.token_grace = token_grace
        self.minute_quota = minute_quota
        self.daily_quota = daily_quota
        self.market_quota = market_quota
        self.quirks = frozenset(quirks)
        self._port = port
        self._init_protocol()
        self._faults = FaultPlan(seed)
        self._jitter_rng = random.Random(f"jitter:{seed}")  # not for secrets
        self._answers: dict[tuple[str, str], dict[str, Any]] = {}
        self._registered: set[str] = set()
        self._minute_start = -math.inf
        self._minute_calls = 0
        self._day_calls = 0
        self._billed: Counter[str] = Counter()
        self._token_calls: Counter[str] = Counter()
        self._refused: Counter[int] = Counter()
        self._requests = 0
        self._server: HTTPServerThread | None = None
        self._images = ImageReader()

    # --- life cycle -----------------------------------------------------------------
    async def _shutdown(self) -> None:
        await self._images.aclose()

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "stopped"
        return f"<WeChatEmulator {where}>"

    # --- answers --------------------------------------------------------------------
    def register(self, image: bytes | str, kind: str, answer: dict[str, Any]) -> str:
        """Answer ``answer`` for this image (bytes or sha256 hex) and kind; returns the sha256."""
        sha256 = sha256_of(image)
        stored = json.loads(json.dumps(answer))  # a private copy that is sure to be JSON
        with self._lock:
            self._answers[(sha256, check_kind(kind))] = {"errcode": 0, "errmsg": "ok", **stored}
            self._registered.add(sha256)
        return sha256

    @staticmethod
    def fallback_answer(kind: str, sha256: str) -> dict[str, Any]:
        """The deterministic answer for images with nothing registered."""
        return fallback_answer(kind, sha256)

    @property
    def quirks(self) -> frozenset[str]:
        """Switched-on deviations of the live platform (names from :data:`QUIRKS`)."""
        return self._quirks

    @quirks.setter
    def quirks(self, names: frozenset[str] | set[str]) -> None:
        unknown = set(names) - QUIRKS
        if unknown:
            raise ValueError(f"unknown quirks {sorted(unknown)}; known: {sorted(QUIRKS)}")
        self._quirks = frozenset(names)

    # --- faults ---------------------------------------------------------------------
    def set_faults(
        self,
        *,
        system_error: float = 0.0,
        http_500: float = 0.0,
        drop: float = 0.0,
        bad_json: float = 0.0,
    ) -> None:
        """Fail OCR calls at random with these probabilities (replacing the previous ones)."""
        with self._lock:
            self._faults.set_odds(
                system_error=system_error, http_500=http_500, drop=drop, bad_json=bad_json
            )

    def fail_next(
        self,
        n: int,
        *,
        errcode: int | None = None,
        http_status: int | None = None,
        drop: bool = False,
    ) -> None:
        """Make the next ``n`` admitted OCR calls fail: dropped, HTTP status, or errcode (-1)."""
        if drop:
            fault = Fault(drop=True)
        elif http_status is not None:
            fault = Fault(errcode=errcode, http_status=http_status)
        else:
            fault = Fault(errcode=-1 if errcode is None else errcode)
        with self._lock:
            self._faults.queue(n, fault)

    # --- tokens ---------------------------------------------------------------------
    def issue_token(self) -> str:
        """A valid token (the current stable token) without an HTTP call or a token_calls count."""
        with self._lock:
            grant = self._tokens.grant
            return grant("stable_token", ttl=self.token_ttl, grace=self.token_grace, force=False)[0]

    def expire_tokens(self) -> None:
        """Every token issued so far answers 42001 from now on."""
        with self._lock:
            self._tokens.expire_all()

    def invalidate_tokens(self) -> None:
        """Every token issued so far answers 40001 from now on."""
        with self._lock:
            self._tokens.invalidate_all()

    # --- quotas and counters --------------------------------------------------------
    def reset_day(self) -> None:
        """Start a new day: the daily and market quotas count from zero again."""
        with self._lock:
            self._day_calls = 0

    def reset_minute(self) -> None:
        """Start a new minute window now (instead of waiting for it)."""
        with self._lock:
            self._minute_start = -math.inf

    @property
    def billed(self) -> Counter[str]:
        """Snapshot: admitted OCR calls per image sha256 ('' for calls without image bytes)."""
        with self._lock:
            return Counter(self._billed)

    @property
    def total_billed(self) -> int:
        """Number of admitted (billed) OCR calls."""
        with self._lock:
            return sum(self._billed.values())

    @property
    def token_calls(self) -> Counter[str]:
        """Snapshot: calls to the token endpoints, keyed "token" and "stable_token"."""
        with self._lock:
            return Counter(self._token_calls)

    @property
    def refused(self) -> Counter[int]:
        """Snapshot: OCR calls refused before billing, by errcode (40001, 45011, ...)."""
        with self._lock:
            return Counter(self._refused)

    @property
    def requests(self) -> int:
        """Number of well-formed HTTP requests received (any path)."""
        with self._lock:
            return self._requests

    def reset_counters(self) -> None:
        """Zero ``billed``, ``token_calls``, ``refused`` and ``requests`` (not quotas)."""
        with self._lock:
            self._billed.clear()
            self._token_calls.clear()
            self._refused.clear()
            self._requests = 0

    # --- request handling (event-loop thread) ---------------------------------------
    async def _handle(self, request: Request) -> Response:
        with self._lock:
            self._requests += 1
            delay = self.latency + self._jitter_rng.uniform(-self.jitter, self.jitter)
        if delay > 0:
            await asyncio.sleep(delay)
        return await super()._handle(request)

    def _token_call(self, channel: str) -> None:
        with self._lock:
            self._token_calls[channel] += 1

    def _credentials(self, fields: dict[str, Any]) -> int:
        """0 when grant_type, appid and secret are right, else the platform's errcode."""
        refusal = super()._credentials(fields)  # grant_type, then a missing appid or secret
        if refusal in (0, 41004) and fields.get("appid") != self.appid:
            return 40013
        if refusal:
            return refusal
        return 40125 if fields.get("secret") != self.secret else 0

    def _admit(self, access_token: str) -> int:
        """Token then quota checks; 0 admits (and counts) the call (lock held)."""
        refusal = self._tokens.check(access_token)
        if refusal:
            return refusal
        now = time.monotonic()
        if now - self._minute_start >= MINUTE_WINDOW:
            self._minute_start, self._minute_calls = now, 0
        if self.minute_quota is not None and self._minute_calls >= self.minute_quota:
            return 45011
        if self.daily_quota is not None and self._day_calls >= self.daily_quota:
            return 45009
        if self.market_quota is not None and self._day_calls >= self.market_quota:
            return 101003
        self._minute_calls += 1
        self._day_calls += 1
        return 0

    async def _ocr(self, kind: str, request: Request) -> Response:
        with self._lock:
            refusal = self._admit(request.query.get("access_token", ""))
            fault = None if refusal else self._faults.draw()
            if refusal:
                self._refused[refusal] += 1
        if refusal:
            return self._error(refusal)
        image, problem = await self._images.read(request)
        sha256 = hashlib.sha256(image).hexdigest() if image else ""
        with self._lock:
            self._billed[sha256] += 1  # every call that reached the platform is billed
        if fault is not None:
            return self._fault_response(fault, kind, sha256)
        if not image:
            return self._error(problem)
        if len(image) >= MAX_IMAGE_BYTES or not is_image(image):
            return self._error(101002)
        return self._json(self._answer(kind, sha256))

    def _answer(self, kind: str, sha256: str) -> dict[str, Any]:
        with self._lock:
            registered = self._answers.get((sha256, kind))
            elsewhere = sha256 in self._registered
        if registered is None and elsewhere:
            return error_body(101001)
        answer = registered if registered is not None else fallback_answer(kind, sha256)
        quirks = self._quirks
        renames = {
            "vehicle_type": "vhicle_type" if kind == "driving" and "vhicle_type" in quirks else "",
            "number": "id" if kind == "bankcard" and "bankcard_id" in quirks else "",
        }
        answer = {renames.get(k) or k: v for k, v in answer.items()}
        if "string_errcode" in quirks and answer.get("errcode") == 0:
            answer["errcode"] = "0"
        return answer

    def _fault_response(self, fault: Fault, kind: str, sha256: str) -> Response:
        if fault.drop:
            return Response(drop=True)
        if fault.http_status is not None and fault.errcode is None:
            page = f"<html><head><title>{fault.http_status} error</title></head></html>\n"
            return Response(fault.http_status, page.encode(), "text/html; charset=utf-8")
        if fault.http_status is not None:
            return Response(fault.http_status, self._json(error_body(fault.errcode)).body)
        if fault.bad_json:
            body = self._json(fallback_answer(kind, sha256)).body
            return Response(body=body[: len(body) // 2])
        return self._error(fault.errcode)

    def _json(self, body: dict[str, Any]) -> Response:
        content_type = "text/plain" if "text_plain" in self._quirks else JSON
        return Response(200, json.dumps(body, ensure_ascii=False).encode(), content_type)
