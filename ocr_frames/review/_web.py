"""``ocr-frames review``: the review app on 127.0.0.1 (Starlette routes, served by uvicorn;
both from the ``review`` extra).

Security contract, every route included (pages, static files, images, the API):

- bound to 127.0.0.1 only; a request whose ``Host`` is not ``127.0.0.1:PORT`` or
  ``localhost:PORT`` is refused (403), so a DNS-rebinding page cannot reach it;
- the random token (``secrets.token_urlsafe(32)``) is required (``/favicon.ico`` alone
  answers without it: 204, empty), compared in constant
  time: ``?token=`` or ``Authorization: Bearer``; a POST takes it from the header only, so
  no other page can post a review (no cookie is ever set);
- images are reached by row number only (:class:`~ocr_frames._sources.display.ImageIndex`);
  static files are a fixed list;
- every answer carries a Content-Security-Policy forbidding anything not from the app
  (no inline script, no external asset), ``no-referrer``, ``nosniff``, ``no-store`` and
  is not frameable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import os
import re
import secrets
import socket
import tempfile
import webbrowser
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ocr_frames._base.files import create_private
from ocr_frames.review._pages import STATIC, list_page, row_page, static_file
from ocr_frames.review._session import MAX_LIST, RequestError, ReviewSession
from ocr_frames.review._view import ImageRef

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = [
    "CSP",
    "SECURITY_HEADERS",
    "ReviewServer",
    "authorize",
    "missing_extra",
    "report_csp",
]

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = {
    "content-security-policy": CSP,
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
_METHODS: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
log = logging.getLogger("ocr_frames.review")
_EXTRA_HINT: Final = "ocr-frames review needs the review extra: pip install 'ocr-frames[review]'"


def missing_extra() -> str | None:
    """Why the review app cannot run here (the ``review`` extra missing), or None."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        return _EXTRA_HINT
    return None


def authorize(
    token: str,
    method: str,
    host: str | None,
    port: int,
    query_token: str | None,
    authorization: str | None,
) -> int | None:
    """The status refusing a request (401/403), or None to serve it.  Pure, so the policy
    is tested on its own as well as through the real server."""
    if host not in {f"127.0.0.1:{port}", f"localhost:{port}"}:
        return 403
    given = None
    if authorization and authorization[:7].lower() == "bearer ":
        given = authorization[7:].strip()
    elif method in ("GET", "HEAD") and query_token:
        given = query_token
    if given is None or not hmac.compare_digest(given.encode(), token.encode()):
        return 401
    return None


class ReviewServer:
    """The app around one :class:`ReviewSession`, on a socket bound to 127.0.0.1.

    ``port`` 0 takes a free port; :attr:`url` (with the token) is known as soon as the
    server is constructed, before it serves.
    """

    def __init__(self, session: ReviewSession, *, port: int = 0, token: str | None = None) -> None:
        self.session = session
        self.token = token or secrets.token_urlsafe(32)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.socket.listen(128)  # connections wait from now on, before uvicorn serves
        self.port: int = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/?token={self.token}"
        self._launch_dir: tempfile.TemporaryDirectory[str] | None = None

    def app(self) -> Starlette:
        """The ASGI app (Starlette)."""
        return build_app(self.session, self.token, self.port)

    def open_browser(self) -> bool:
        """Open :attr:`url` in the default browser, through a private launch file (see
        :func:`_launch_page`) that lives as long as the server; False if none opened."""
        if self._launch_dir is None:
            self._launch_dir = tempfile.TemporaryDirectory(prefix="ocr-frames-review-")
        page = _launch_page(self.url, Path(self._launch_dir.name))
        return webbrowser.open(page.as_uri())

    def serve(self, *, open_browser: bool = False) -> None:
        """Serve until interrupted (Ctrl-C / SIGTERM); optionally open the browser."""
        import uvicorn

        config = uvicorn.Config(self.app(), log_level="warning", access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        if open_browser:
            self.open_browser()
        try:
            server.run(sockets=[self.socket])
        finally:
            self.socket.close()
            if self._launch_dir is not None:
                self._launch_dir.cleanup()


def _launch_page(url: str, folder: Path) -> Path:
    """A private file that sends the browser on to ``url``: the browser is started with
    this file's path, so the token is not on its command line (``ps`` shows that)."""
    page = folder / "open-review.html"
    target = html.escape(url, quote=True)
    text = (
        f"<!doctype html><meta charset='utf-8'><meta http-equiv='refresh' content='0;url={target}'>"
        f"<a href='{target}'>open the review</a>"
    )
    fd = create_private(page)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return page


def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**SECURITY_HEADERS, **(extra or {})}


def build_app(session: ReviewSession, token: str, port: int) -> Starlette:
    """The Starlette app: each route checks the token, then asks the session."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    name = session.output.name

    def refused(status: int, message: str) -> Response:
        extra = {"www-authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": message}, status_code=status, headers=_headers(extra))

    def guarded(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            status = authorize(
                token,
                request.method,
                request.headers.get("host"),
                port,
                request.query_params.get("token"),
                request.headers.get("authorization"),
            )
            if status is not None:
                why = "wrong host" if status == 403 else "a valid token is required"
                return refused(status, why)
            try:
                answer: Response = await handler(request)
            except RequestError as exc:
                return refused(exc.status, str(exc))
            except Exception:  # a bug: still an answer with the headers, and no details
                log.exception("review app: %s %s failed", request.method, request.url.path)
                return refused(500, "internal error (see the server's log)")
            answer.headers.update(_headers(_own_csp(answer)))
            return answer

        return endpoint

    def row_number(request: Request) -> int:
        return int(request.path_params["i"])

    async def home(request: Request) -> Response:
        which = request.query_params.get("filter")
        data = await run_in_threadpool(session.rows, which)
        return HTMLResponse(list_page(data, token, name))

    async def row(request: Request) -> Response:
        i = row_number(request)
        which = request.query_params.get("filter") or session.default_filter
        detail = await run_in_threadpool(session.detail, i)
        image = await run_in_threadpool(_image_ref, session, i, token, detail["image"])
        around = await run_in_threadpool(session.neighbours, i, which)
        page = row_page(detail, image, token, which=which, neighbours=around, output_name=name)
        return HTMLResponse(page)

    async def api_rows(request: Request) -> Response:
        query = request.query_params
        offset, limit = _count(query.get("offset"), 0), _count(query.get("limit"), MAX_LIST)
        return JSONResponse(
            await run_in_threadpool(session.rows, query.get("filter"), offset, limit)
        )

    async def api_row(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(session.detail, row_number(request)))

    async def api_image(request: Request) -> Response:
        page = request.query_params.get("page")
        shown = await run_in_threadpool(
            session.image, row_number(request), _count(page, None) if page else None
        )
        return Response(shown.data, media_type=shown.mime)

    async def api_review(request: Request) -> Response:
        body = await request.body()
        detail = await run_in_threadpool(session.review, row_number(request), body)
        return JSONResponse(detail)

    async def static(request: Request) -> Response:
        file = request.path_params["name"]
        if file not in STATIC:
            raise RequestError(404, "no such file")
        return Response(static_file(file), media_type=STATIC[file])

    async def report(request: Request) -> Response:
        page = await run_in_threadpool(session.report, lambda i: f"/rows/{i}?token={token}")
        # the report is a self-contained file: its one inline style is allowed by its hash
        return HTMLResponse(page, headers={"content-security-policy": report_csp(page)})

    async def not_found(request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            raise RequestError(405, f"{request.method} is not served here")
        raise RequestError(404, "not found")

    async def favicon(request: Request) -> Response:
        # browsers ask for it without the token; an empty answer keeps their console clean
        return Response(status_code=204, headers=_headers())

    routes = [
        Route("/favicon.ico", favicon),
        Route("/", guarded(home)),
        Route("/rows/{i:int}", guarded(row)),
        Route("/api/rows", guarded(api_rows)),
        Route("/api/rows/{i:int}", guarded(api_row)),
        Route("/api/rows/{i:int}/image", guarded(api_image)),
        Route("/api/rows/{i:int}/review", guarded(api_review), methods=["POST"]),
        Route("/static/{name}", guarded(static)),
        Route("/report", guarded(report)),
        # every other path and method: refused after the token check, with the headers
        # (a method a route does not take lands here too, instead of Starlette's bare 405)
        Route("/{rest:path}", guarded(not_found), methods=_METHODS),
    ]
    return Starlette(routes=routes)


def report_csp(page: str) -> str:
    """The policy of the audit report: :data:`CSP`, with its one ``<style>`` element
    allowed by the sha256 of its text (and nothing else inline)."""
    found = re.search(r"<style>(.*?)</style>", page, re.S)
    digest = hashlib.sha256(found.group(1).encode() if found else b"").digest()
    style = f"style-src 'sha256-{base64.b64encode(digest).decode()}'"
    return CSP.replace("style-src 'self'", style)


def _own_csp(answer: Any) -> dict[str, str] | None:
    own = answer.headers.get("content-security-policy")
    return {"content-security-policy": own} if own else None


def _count(text: str | None, default: int | None) -> Any:
    if text is None:
        return default
    if not text.isdigit() or len(text) > 9:
        raise RequestError(400, f"not a count: {text[:20]!r}")
    return int(text)


def _image_ref(session: ReviewSession, i: int, token: str, where: Mapping[str, Any]) -> ImageRef:
    """Row ``i``'s image for the row page; ``where``: the detail's ``image`` (whether the
    file is there, and why not)."""
    if not where["available"]:
        return ImageRef(None, missing=where["missing"])
    try:
        shown = session.image(i)
    except RequestError as exc:
        return ImageRef(None, missing=str(exc))
    return ImageRef(
        f"/api/rows/{i}/image?token={token}",
        shown.width,
        shown.height,
        matches=shown.matches,
    )
