"""Loopback servers for network tests: a recording forward proxy, a path gateway, an image
server that redirects on demand.  Each runs its own asyncio loop in a daemon thread and
records the request lines it received (in arrival order).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

# (method, request target, lower-case headers) -> upstream (host, port, origin-form target)
Route = Callable[[str, str, dict[str, str]], tuple[str, int, str] | None]
_HOP_HEADERS = ("connection", "keep-alive", "proxy-authorization", "proxy-connection")


class _LoopbackServer:
    """An asyncio server on 127.0.0.1:0 in a daemon thread; one request per connection."""

    def __init__(self) -> None:
        self.lines: list[str] = []  # "METHOD target" of every request received
        self.headers: list[dict[str, str]] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> _LoopbackServer:
        self._thread.start()
        start = asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info: object) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in lines:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.lines.append(f"{method} {target}")
            self.headers.append(headers)
            writer.write(await self.answer(method, target, headers, body))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        raise NotImplementedError


def response(status: int, body: bytes = b"", **headers: str) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class Forwarder(_LoopbackServer):
    """Forwards each request to the upstream ``route`` names (502 when it names none)."""

    def __init__(self, route: Route) -> None:
        super().__init__()
        self._route = route

    async def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        upstream = self._route(method, target, headers)
        if upstream is None:
            return response(502, b"no route")
        host, port, origin = upstream
        reader, writer = await asyncio.open_connection(host, port)
        kept = [f"{k}: {v}" for k, v in headers.items() if k not in _HOP_HEADERS]
        head = [f"{method} {origin} HTTP/1.1", *kept, "Connection: close"]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        answer = await reader.read()  # the upstream closes after one answer
        writer.close()
        return answer


class RecordingProxy(Forwarder):
    """An HTTP forward proxy: absolute-form requests (``GET http://host:port/path``)."""

    def __init__(self) -> None:
        super().__init__(_absolute_form)


def _absolute_form(method: str, target: str, headers: dict[str, str]) -> tuple[str, int, str]:
    parts = urlsplit(target)
    assert parts.scheme == "http" and parts.hostname, target  # no CONNECT tunnels here
    origin = parts.path + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, parts.port or 80, origin


class PathGateway(Forwarder):
    """A reverse proxy: ``/<prefix>/rest`` goes to ``upstreams[prefix]`` as ``/rest``."""

    def __init__(self, upstreams: dict[str, str]) -> None:
        def route(method: str, target: str, headers: dict[str, str]) -> tuple[str, int, str] | None:
            prefix, _, rest = target.lstrip("/").partition("/")
            base = upstreams.get(prefix)
            if base is None:
                return None
            parts = urlsplit(base)
            assert parts.hostname and parts.port
            return parts.hostname, parts.port, "/" + rest

        super().__init__(route)


class ImageServer(_LoopbackServer):
    """``/img/<name>`` answers ``image``; ``/to?u=URL`` redirects (302) to URL."""

    def __init__(self, image: bytes) -> None:
        super().__init__()
        self.image = image

    async def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        parts = urlsplit(target)
        if parts.path.startswith("/img/"):
            return response(200, self.image, Content_Type="image/png")
        if parts.path == "/to":
            return response(302, Location=parse_qs(parts.query)["u"][0])
        return response(404, b"not here")

    @property
    def paths(self) -> list[str]:
        return [urlsplit(line.split(" ", 1)[1]).path for line in self.lines]
