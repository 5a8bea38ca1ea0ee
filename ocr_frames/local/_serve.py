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

The protocol (routes, token endpoints, error bodies) is
:class:`ocr_frames._server.protocol.ProtocolServer`, which the emulator builds on too;
this module adds only the OCR answer.  The server binds loopback addresses only.
"""

from __future__ import annotations

import ipaddress
import json
import sys
from typing import IO, Any, Final

from ocr_frames._engine.contract import Engine
from ocr_frames._errors import E_ENGINE, ConfigurationError
from ocr_frames._server.images import ImageReader
from ocr_frames._server.loopback import HTTPServerThread, Request, Response
from ocr_frames._server.protocol import ProtocolServer, error_body
from ocr_frames._sources.limits import MAX_IMAGE_BYTES
from ocr_frames.local._engine import LocalEngine

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


class LocalServer(ProtocolServer):
    """Serve the WeChat protocol from ``engine`` (default: a :class:`LocalEngine`)."""

    token_ttl = TOKEN_TTL
    token_grace = TOKEN_GRACE

    def __init__(
        self, engine: Engine | None = None, *, host: str = DEFAULT_HOST, port: int = 0
    ) -> None:
        _check_loopback(host)
        self.engine = engine if engine is not None else LocalEngine()
        self.host = host
        self._port = port
        self._init_protocol()
        self._images = ImageReader()
        self._server: HTTPServerThread | None = None

    async def _shutdown(self) -> None:
        await self._images.aclose()
        await self.engine.aclose()

    async def _ocr(self, kind: str, request: Request) -> Response:
        with self._lock:
            code = self._tokens.check(request.query.get("access_token", ""))
        if code:
            return self._error(code)
        image, code = await self._images.read(request)
        if code:
            return self._error(code)
        if len(image) >= MAX_IMAGE_BYTES:
            return self._error(101002)
        answer = await self.engine.arecognize(kind, image)
        return self._json(to_wire(kind, answer))


def serve(
    *, engine: str = "local", host: str = DEFAULT_HOST, port: int = 0, out: IO[str] | None = None
) -> int:
    """Serve until Ctrl-C or SIGTERM; prints the base URL first.  Returns the exit status."""
    if engine != "local":
        raise ConfigurationError(f"ocr-frames serve: unknown engine {engine!r} (only 'local')")
    out = out or sys.stdout
    local = LocalEngine()
    local.warm_up()  # load the models before saying we are ready

    def announce() -> None:
        print(f"base_url: {server.base_url}", file=out, flush=True)
        print(f"engine: {local.identity} (any appid/secret is accepted)", file=out, flush=True)

    server = LocalServer(local, host=host, port=port)
    server.serve_until_stopped(announce)
    return 0
