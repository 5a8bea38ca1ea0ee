"""HTTP/1.1 plumbing of the loopback servers (the emulator, ``ocr-frames serve``): an
asyncio server on its own loop in a daemon thread, and :class:`LoopbackService`, their
life cycle.  The WeChat protocol on top of it is :mod:`ocr_frames._server.protocol`.

Only what the WeChat protocol needs: origin-form requests, ``Content-Length`` bodies,
keep-alive, ``Expect: 100-continue``.  Anything else is answered with a 4xx status and
the connection is closed; no input, however malformed, stops the server.  The request
handler is an ``async`` callable, so a slow answer (``asyncio.sleep``) never blocks the
other connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from types import FrameType
from typing import Final, TypeVar
from urllib.parse import SplitResult, parse_qs, urlsplit

__all__ = ["HTTPServerThread", "Request", "Response", "parse_multipart"]

log = logging.getLogger("ocr_frames.wechat")

#: Bodies larger than this are refused with 413 before they are read.
DEFAULT_MAX_BODY: Final = 16 * 1024 * 1024
#: Request line plus headers larger than this are refused with 431.
MAX_HEAD: Final = 64 * 1024
_METHOD: Final = re.compile(r"[A-Z]{1,16}")
_BOUNDARY: Final = re.compile(r';\s*boundary\s*=\s*(?:"([^"]{1,200})"|([^;\s]{1,200}))', re.I)
_PART_NAME: Final = re.compile(r'(?:^|;)\s*name\s*=\s*(?:"([^"]*)"|([^;\s]+))', re.I)


@dataclass(frozen=True)
class Request:
    """One parsed request; header names are lower-case, query values the first given."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Response:
    """What the handler answers; ``drop`` closes the connection without any answer."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    drop: bool = False


Handler = Callable[[Request], Awaitable[Response]]


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_multipart(body: bytes, content_type: str) -> dict[str, bytes]:
    """The parts of a ``multipart/form-data`` body by field name (first wins); {} if none."""
    match = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/form-data") or not match:
        return {}
    boundary = (match.group(1) or match.group(2)).encode("latin-1")
    fields: dict[str, bytes] = {}
    # every delimiter but the first is preceded by CRLF, which belongs to the delimiter
    for chunk in (b"\r\n" + body).split(b"\r\n--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break  # the close delimiter
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            found = _PART_NAME.search(value)
            if found and name.strip().lower() == "content-disposition":
                fields.setdefault(found.group(1) or found.group(2) or "", content)
    return fields


def _parse_head(head: bytes) -> tuple[str, SplitResult, str, dict[str, str]]:
    """Method, target URL, version and headers (names lower-cased) of a request head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _METHOD.fullmatch(parts[0]):
        raise _HTTPError(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise _HTTPError(505, "only HTTP/1.0 and HTTP/1.1 are spoken here")
    try:
        url = urlsplit(target)
    except ValueError:
        url = None
    if url is None or not (target.startswith("/") or target.startswith("http://")):
        raise _HTTPError(400, "malformed request target")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or line[0] in " \t":
            raise _HTTPError(400, "malformed header line")
        key = name.lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return method, url, version, headers


def _content_length(headers: dict[str, str], max_body: int) -> int:
    if "transfer-encoding" in headers:
        raise _HTTPError(400, "Transfer-Encoding (chunked) is not supported; send Content-Length")
    raw = headers.get("content-length")
    if raw is None:
        return 0
    values = {v.strip() for v in raw.split(",")}
    value = values.pop()
    if values or not value.isdigit() or not value.isascii() or len(value) > 18:
        raise _HTTPError(400, "invalid Content-Length")
    if int(value) > max_body:
        raise _HTTPError(413, f"body larger than {max_body} bytes")
    return int(value)


def _keep_alive(version: str, headers: dict[str, str]) -> bool:
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    return "keep-alive" in tokens if version == "HTTP/1.0" else "close" not in tokens


def _encode(response: Response, *, keep_alive: bool, head_only: bool = False) -> bytes:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    head = (
        f"HTTP/1.1 {response.status} {reason}\r\n"
        f"Server: ocr-frames\r\nDate: {formatdate(usegmt=True)}\r\n"
        f"Content-Type: {response.content_type}\r\nContent-Length: {len(response.body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    ).encode("latin-1")
    return head if head_only else head + response.body


class HTTPServerThread:
    """Serve ``handler`` on ``host:port`` from a private event loop in a daemon thread."""

    def __init__(
        self,
        handler: Handler,
        *,
        host: str,
        port: int,
        max_body: int = DEFAULT_MAX_BODY,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._handler = handler
        self._bind = (host, port)  # what to listen on; ``port`` is the port it got
        self._max_body = max_body
        self._on_shutdown = on_shutdown
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self.port = 0

    def start(self) -> None:
        """Bind and start serving; returns once the socket listens (raises if it cannot)."""
        self._thread = threading.Thread(target=self._run, name="ocr-frames-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise self._startup_error

    def stop(self, timeout: float = 10.0) -> None:
        """Close the listener and every connection (cancelling answers in flight), end the loop."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            future.result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(
                    self._serve_connection, *self._bind, limit=MAX_HEAD, backlog=1024
                )
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # reported to start() in the caller's thread
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task, writer in list(self._connections.items()):
            writer.transport.abort()
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        if self._on_shutdown is not None:
            await self._on_shutdown()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away
        except asyncio.CancelledError:
            # stop() cancels us; end normally, since asyncio < 3.12 logs an error for a
            # client_connected_cb task that ends cancelled
            pass
        except Exception:  # a bug must cost one connection, never the server
            log.exception("loopback server: a connection failed")
        finally:
            self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must close."""
        try:
            request, keep_alive = await self._read_request(reader, writer)
        except _HTTPError as exc:
            error = Response(exc.status, f"{exc}\n".encode(), "text/plain; charset=utf-8")
            writer.write(_encode(error, keep_alive=False))
            await writer.drain()
            return False
        if request is None:
            return False
        try:
            response = await self._handler(request)
        except Exception:
            log.exception("loopback server: the handler failed")
            response = Response(500, b"server error\n", "text/plain; charset=utf-8")
            keep_alive = False
        if response.drop:
            return False
        writer.write(_encode(response, keep_alive=keep_alive, head_only=request.method == "HEAD"))
        await writer.drain()
        return keep_alive

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[Request | None, bool]:
        head = b""
        while not head.strip():  # tolerate empty lines between requests
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if exc.partial.strip():
                    raise _HTTPError(400, "incomplete request head") from None
                return None, False  # clean end of the connection
            except (asyncio.LimitOverrunError, ValueError):
                raise _HTTPError(431, f"request head larger than {MAX_HEAD} bytes") from None
        method, url, version, headers = _parse_head(head.lstrip(b"\r\n"))
        length = _content_length(headers, self._max_body)
        if length and headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await reader.readexactly(length) if length else b""
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        request = Request(method, url.path, query, headers, body)
        return request, _keep_alive(version, headers)


_S = TypeVar("_S", bound="LoopbackService")


class LoopbackService:
    """Life cycle shared by the loopback servers (the emulator, the local engine's server).

    Subclasses set ``host``, ``_port`` and ``_server = None`` in ``__init__`` and implement
    the async ``_handle(request) -> Response``; ``_shutdown`` runs on the server's loop
    when it stops.
    """

    host: str
    _port: int
    _server: HTTPServerThread | None
    _what: str = "server"

    async def _handle(self, request: Request) -> Response:
        raise NotImplementedError

    async def _shutdown(self) -> None:
        return None

    def start(self: _S) -> _S:
        """Start serving in a background thread; returns ``self`` (for chaining)."""
        if self._server is not None:
            raise RuntimeError(f"the {self._what} is already running")
        server = HTTPServerThread(
            self._handle, host=self.host, port=self._port, on_shutdown=self._shutdown
        )
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        """Stop serving: connections are closed, answers in flight are abandoned."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def serve_until_stopped(self, announce: Callable[[], None]) -> None:
        """Start, call ``announce`` (e.g. print :attr:`base_url`), serve until Ctrl-C or
        SIGTERM, stop.  The SIGTERM handler is in place before ``announce``, so a caller
        that reads the announcement and sends SIGTERM always gets a clean stop."""
        stopping = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stopping.set()

        previous = signal.signal(signal.SIGTERM, on_signal)
        try:
            with self:
                announce()
                with contextlib.suppress(KeyboardInterrupt):
                    while not stopping.wait(0.5):
                        pass
        finally:
            signal.signal(signal.SIGTERM, previous)

    @property
    def port(self) -> int:
        """The TCP port served (valid after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError(f"the {self._what} is not running; call start() first")
        return self._server.port

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server, to pass as a client's base_url."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"
