"""The WeChat OCR protocol on loopback, answered by the local engine.

``ocr-frames serve --engine local --port 8099`` (or :func:`serve`) lets code written for the
WeChat API run unchanged against this machine: point its base URL at
``http://127.0.0.1:8099`` instead of ``https://api.weixin.qq.com``.

* ``GET /cgi-bin/token?grant_type=client_credential&appid=A&secret=S`` and ``POST
  /cgi-bin/stable_token`` issue access tokens (7200 s).  There is no account behind the
  server, so any appid and secret are accepted (and never stored or logged); missing
  ones answer 41002/41004 as the platform does.  A new ``/cgi-bin/token`` token retires
  the previous ones after :data:`TOKEN_GRACE` seconds, like the platform.
* ``POST /cv/ocr/<kind>?access_token=T`` with the multipart part ``img`` (or ``img_url``,
  fetched only from loopback addresses): the platform's body, errors as HTTP 200
  ``{"errcode": N, "errmsg": "... rid: ..."}``.  GET → 43002, no token → 41001, unknown
  token → 40001, no image → 44002, 2 MB or more → 101002; ``menu`` answers carry
  ``content`` as a JSON string, as on the platform.  A failure of the engine itself
  (900012) is sent as the platform's ``-1`` system error.

The HTTP plumbing is the emulator's (:mod:`ocr_frames.wechat._server`); the server
binds loopback addresses only.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import sys
import threading
from types import FrameType
from typing import IO, Any, Final

from ocr_frames._engine.engine import Engine
from ocr_frames._errors import E_ENGINE, ConfigurationError
from ocr_frames.kinds import KINDS
from ocr_frames.testing._answers import error_body
from ocr_frames.wechat._images import MAX_IMAGE_BYTES, ImageReader
from ocr_frames.wechat._server import HTTPServerThread, LoopbackService, Request, Response
from ocr_frames.wechat._tokenbook import TokenBook

__all__ = ["TOKEN_GRACE", "TOKEN_TTL", "LocalServer", "serve"]

TOKEN_TTL: Final = 7200.0
TOKEN_GRACE: Final = 300.0
DEFAULT_HOST: Final = "127.0.0.1"


def _check_loopback(host: str) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigurationError(f"the local server binds loopback addresses only, not {host!r}")


def _json(body: dict[str, Any]) -> Response:
    return Response(200, json.dumps(body, ensure_ascii=False).encode())


def to_wire(kind: str, answer: dict[str, Any]) -> dict[str, Any]:
    """An answer dict as the platform sends it (errmsg with rid, menu ``content``)."""
    code = int(answer.get("errcode", 0))
    if code != 0:
        body = error_body(-1 if code == E_ENGINE else code)
        if code not in (E_ENGINE, -1) and answer.get("errmsg"):
            body["errmsg"] = f"{answer['errmsg']} rid: {body['errmsg'].rpartition('rid: ')[2]}"
        return body
    wire = {k: v for k, v in answer.items() if k not in ("rid", "sha256", "cached")}
    if kind == "menu" and "menu_items" in wire:
        items = wire.pop("menu_items")
        wire["content"] = json.dumps({"menu_items": items}, ensure_ascii=False)
    return wire


class LocalServer(LoopbackService):
    """Serve the WeChat protocol from ``engine`` (default: a :class:`LocalEngine`)."""

    def __init__(
        self, engine: Engine | None = None, *, host: str = DEFAULT_HOST, port: int = 0
    ) -> None:
        _check_loopback(host)
        if engine is None:
            from ocr_frames.local._engine import LocalEngine

            engine = LocalEngine()
        self.engine = engine
        self.host = host
        self._port = port
        self._tokens = TokenBook()
        self._lock = threading.Lock()
        self._images = ImageReader()
        self._server: HTTPServerThread | None = None

    async def _shutdown(self) -> None:
        await self._images.aclose()
        await self.engine.aclose()

    async def _handle(self, request: Request) -> Response:
        if request.path == "/cgi-bin/token":
            return self._token(request.query, "token")
        if request.path == "/cgi-bin/stable_token":
            if request.method != "POST":
                return _json(error_body(43002))
            try:
                body = json.loads(request.body or b"{}")
            except (ValueError, UnicodeDecodeError):
                body = None
            if not isinstance(body, dict):
                return _json(error_body(47001))
            return self._token({k: str(v) for k, v in body.items()}, "stable_token")
        kind = request.path.removeprefix("/cv/ocr/")
        if kind not in KINDS or not request.path.startswith("/cv/ocr/"):
            return Response(404, b"not found\n", "text/plain; charset=utf-8")
        return await self._ocr(kind, request)

    def _token(self, params: dict[str, str], channel: str) -> Response:
        if params.get("grant_type") != "client_credential":
            return _json(error_body(40002))
        if not params.get("appid"):
            return _json(error_body(41002))
        if not params.get("secret"):
            return _json(error_body(41004))
        force = channel == "token" or params.get("force_refresh", "").lower() in ("true", "1")
        with self._lock:
            token, expires_in = self._tokens.grant(
                channel, ttl=TOKEN_TTL, grace=TOKEN_GRACE, force=force
            )
        return _json({"access_token": token, "expires_in": expires_in})

    async def _ocr(self, kind: str, request: Request) -> Response:
        if request.method != "POST":
            return _json(error_body(43002))
        with self._lock:
            code = self._tokens.check(request.query.get("access_token", ""))
        if code:
            return _json(error_body(code))
        image, code = await self._images.read(request)
        if code:
            return _json(error_body(code))
        if len(image) >= MAX_IMAGE_BYTES:
            return _json(error_body(101002))
        answer = await self.engine.arecognize(kind, image)
        return _json(to_wire(kind, answer))


def serve(
    *, engine: str = "local", host: str = DEFAULT_HOST, port: int = 0, out: IO[str] | None = None
) -> int:
    """Serve until Ctrl-C or SIGTERM; prints the base URL first.  Returns the exit status."""
    if engine != "local":
        raise ConfigurationError(f"ocr-frames serve: unknown engine {engine!r} (only 'local')")
    from ocr_frames.local._engine import LocalEngine

    out = out or sys.stdout
    local = LocalEngine()
    local.warm_up()  # load the models before saying we are ready
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        with LocalServer(local, host=host, port=port) as server:
            print(f"base_url: {server.base_url}", file=out, flush=True)
            print(f"engine: {local.identity} (any appid/secret is accepted)", file=out, flush=True)
            try:
                while not stopping.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
