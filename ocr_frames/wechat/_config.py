"""The I/O-free half of the WeChat client: configuration, request validation, error mapping.

:class:`BaseClient` holds everything of :class:`~ocr_frames.wechat.AsyncWeChatClient`
that does not move bytes; the client adds the HTTP calls and the lock that guards the
token (:class:`~ocr_frames.wechat.WeChatClient` is a blocking wrapper around it).
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from ocr_frames._errors import (
    E_BAD_INPUT,
    E_BAD_RESPONSE,
    E_EMPTY,
    E_NULL,
    E_TOO_LARGE,
    E_TRANSPORT,
    ConfigurationError,
    ImageError,
    TransportError,
)
from ocr_frames._sources.limits import MAX_IMAGE_BYTES
from ocr_frames._version import __version__
from ocr_frames.kinds import check_kind
from ocr_frames.wechat._redact import Scrubber, install_log_redaction, redact
from ocr_frames.wechat._token import (
    TokenCache,
    TokenEndpoint,
    TokenRequest,
    parse_token_response,
    token_request,
)

__all__ = [
    "MAX_IMAGE_BYTES",
    "USER_AGENT",
    "BaseClient",
    "OCRCall",
    "check_base_url",
    "check_http_options",
]

USER_AGENT: Final = f"ocr-frames/{__version__}"

logger = logging.getLogger("ocr_frames.wechat")


@dataclass(frozen=True)
class OCRCall:
    """One validated OCR request, without its token (so it can be re-sent after refresh)."""

    kind: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    #: the multipart body, encoded once (``img`` part), and its Content-Type header
    content: bytes | None = None
    content_type: str | None = None

    def body(self) -> dict[str, Any]:
        """Keyword arguments for httpx carrying the body (none for img_url calls)."""
        if self.content is None:
            return {}
        return {"content": self.content, "headers": {"Content-Type": self.content_type}}


@dataclass
class _CappedBody:
    """Collects a streamed body, refusing to hold more than ``limit`` bytes."""

    limit: int
    what: str
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0

    def start(self, response: httpx.Response) -> None:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            raise self._too_large()

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise self._too_large()
        self.chunks.append(chunk)

    def body(self) -> bytes:
        return b"".join(self.chunks)

    def _too_large(self) -> TransportError:
        message = f"{self.what}: response larger than {self.limit} bytes, not read"
        return TransportError(message, errcode=E_BAD_RESPONSE)


class BaseClient:
    """Configuration, validation and the I/O-free half of both clients."""

    def __init__(
        self,
        *,
        appid: str | None,
        secret: str | None,
        access_token: str | None,
        base_url: str,
        token_endpoint: TokenEndpoint,
        timeout: httpx.Timeout | float,
        max_response_bytes: int,
        refresh_margin: float,
        deadline: float,
    ) -> None:
        if not access_token and not (appid and secret):
            raise ConfigurationError("WeChat client needs appid and secret, or access_token")
        if token_endpoint not in ("stable_token", "token"):
            raise ConfigurationError(
                f"token_endpoint must be 'stable_token' or 'token', not {token_endpoint!r}"
            )
        if max_response_bytes <= 0 or refresh_margin < 0 or deadline <= 0:
            raise ConfigurationError(
                "max_response_bytes and deadline must be > 0, refresh_margin >= 0"
            )
        # a whole-call bound: httpx timeouts are per read, so a server trickling one byte
        # at a time (slow-loris) would otherwise hold a call forever
        self._deadline = deadline
        self.appid = appid
        self.base_url = check_base_url(base_url)
        self.token_endpoint: TokenEndpoint = token_endpoint
        # stable_token can be told to issue a new token; /cgi-bin/token always does
        self._can_force_refresh = token_endpoint == "stable_token"
        self._secret = secret
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._max_response_bytes = max_response_bytes
        self._scrub = Scrubber([secret, access_token])
        self._tokens = TokenCache(refresh_margin=refresh_margin)
        self._urls: dict[tuple[str, str], httpx.URL] = {}
        self._boundary = secrets.token_hex(16)
        self._fixed_token: str | None = None
        if appid and secret:
            if access_token:  # a seed: used until the platform rejects it
                self._tokens.store(access_token, math.inf)
        else:
            self._fixed_token = access_token
        install_log_redaction()

    def __repr__(self) -> str:
        shown = str(httpx.URL(self.base_url).copy_with(username=None, password=None))
        return f"{type(self).__name__}(appid={self.appid!r}, base_url={shown.rstrip('/')!r})"

    @property
    def _can_refresh(self) -> bool:
        return self._fixed_token is None

    def _take_tokens(self, other: BaseClient) -> None:
        """Use ``other``'s token (and hide it the same way) instead of fetching one: the
        client of a forked child takes over its parent's."""
        self._tokens, self._scrub = other._tokens, other._scrub

    def _url(self, path: str) -> str:
        return self.base_url + path

    def _prepare(self, kind: str, img: object, img_url: object) -> OCRCall:
        """Validate one OCR request before anything is sent (no billable call wasted)."""
        check_kind(kind)
        path = f"/cv/ocr/{kind}"
        if img is not None and img_url is not None:
            raise ImageError("pass either img or img_url, not both", errcode=E_BAD_INPUT)
        if img_url is not None:
            if not isinstance(img_url, str) or not img_url:
                raise ImageError("img_url must be a non-empty string", errcode=E_BAD_INPUT)
            return OCRCall(kind, path, params={"img_url": img_url})
        if img is None:
            raise ImageError("no image: pass img (bytes) or img_url", errcode=E_NULL)
        if isinstance(img, (bytearray, memoryview)):
            img = bytes(img)
        if not isinstance(img, bytes):
            raise ImageError(f"img must be bytes, not {type(img).__name__}", errcode=E_BAD_INPUT)
        if not img:
            raise ImageError("image is empty", errcode=E_EMPTY)
        if len(img) >= MAX_IMAGE_BYTES:
            message = (
                f"image is {len(img)} bytes; the platform accepts less than "
                f"{MAX_IMAGE_BYTES} (2 MB); not sent"
            )
            raise ImageError(message, errcode=E_TOO_LARGE)
        # encoded here, once, instead of by httpx on every send: the multipart machinery
        # was the largest share of client CPU per call (see BENCHMARKS.md)
        boundary = self._boundary
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="img"; '
            'filename="image"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        content = b"".join((head, img, f"\r\n--{boundary}--\r\n".encode()))
        content_type = f"multipart/form-data; boundary={boundary}"
        return OCRCall(kind, path, content=content, content_type=content_type)

    def _token_call(self, *, force_refresh: bool = False) -> TokenRequest:
        if not (self.appid and self._secret):  # a fixed token is never refreshed
            raise ConfigurationError("no appid/secret to obtain an access token with")
        return token_request(
            self.token_endpoint, self.appid, self._secret, force_refresh=force_refresh
        )

    def _accept_token(self, status_code: int, body: bytes, *, forced: bool) -> str:
        token, expires_in = parse_token_response(status_code, body, self._scrub)
        self._scrub.add(token)
        self._tokens.store(token, expires_in)
        how = " (force_refresh)" if forced else ""
        logger.debug(
            "token obtained from %s%s, expires in %s s", self.token_endpoint, how, expires_in
        )
        return token

    def _ocr_url(self, call: OCRCall, token: str) -> httpx.URL:
        """The call's URL with its token; parsed once per (kind, token), not per call."""
        if call.params:  # img_url passthrough: rare, built each time
            return httpx.URL(self._url(call.path), params={**call.params, "access_token": token})
        key = (call.path, token)
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) > 64:  # old tokens: forget them
                self._urls.clear()
            url = httpx.URL(self._url(call.path), params={"access_token": token})
            self._urls[key] = url
        return url

    def _transport_error(self, what: str, exc: httpx.HTTPError) -> TransportError:
        """A TransportError whose message cannot leak the URL's token or secret."""
        name = type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            return TransportError(f"{what}: timed out ({name})", errcode=E_TRANSPORT)
        detail = self._scrub(str(exc)) or "no detail"
        code = E_BAD_RESPONSE if isinstance(exc, httpx.DecodingError) else E_TRANSPORT
        return TransportError(f"{what}: {name}: {detail}", errcode=code)

    def _deadline_error(self, what: str) -> TransportError:
        return TransportError(
            f"{what}: no complete response within {self._deadline:g} s", errcode=E_TRANSPORT
        )

    def _capped(self, what: str) -> _CappedBody:
        return _CappedBody(self._max_response_bytes, what)


def check_base_url(base_url: str) -> str:
    """``base_url`` without its trailing slash; ConfigurationError unless an http(s) URL."""
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError):
        raise ConfigurationError("base_url is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"base_url must be an http(s) URL, not {redact(base_url)!r}")
    return base_url.rstrip("/")


def check_http_options(
    http_client: object, transport: object, limits: object, mounts: object = None
) -> None:
    if http_client is not None and (
        transport is not None or limits is not None or mounts is not None
    ):
        raise ConfigurationError("pass transport/limits/mounts or http_client, not both")
