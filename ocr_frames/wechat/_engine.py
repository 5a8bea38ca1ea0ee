"""The WeChat OCR API as an engine: :class:`WeChatEngine`, one attempt per call.

It adapts :class:`~ocr_frames.wechat.AsyncWeChatClient` to the engine contract of
:mod:`ocr_frames._engine.contract`: a per-image problem (network failure, refused image)
becomes an answer row instead of an exception, and the call pool around it
(:mod:`ocr_frames._engine.policy`) decides about retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from ocr_frames._engine.base import BaseEngine
from ocr_frames._engine.contract import Answer
from ocr_frames._errors import E_TRANSPORT, ConfigurationError, ImageError, TransportError
from ocr_frames._http.proxies import check_proxy, shown_proxy
from ocr_frames.wechat._client import DEFAULT_BASE_URL, AsyncWeChatClient, default_transports
from ocr_frames.wechat._config import check_base_url

__all__ = ["WeChatEngine"]


class WeChatEngine(BaseEngine):
    """The WeChat OCR API as an engine.

    Credentials are either ``appid`` + ``secret`` (token via ``/cgi-bin/stable_token``, or
    ``/cgi-bin/token`` with ``token_endpoint="token"``) or a fixed ``access_token``.
    ``base_url`` points at a gateway or at :class:`ocr_frames.testing.WeChatEmulator`.

    Proxies: ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` are honoured as httpx
    honours them; ``proxy="http://[user:password@]host:port"`` (or ``socks5://``) sends every
    call through that proxy instead, and a run with this engine downloads its image URLs
    through it too.  Proxied calls use httpx's transport, the others the lean one.
    """

    def __init__(
        self,
        *,
        appid: str | None = None,
        secret: str | None = None,
        access_token: str | None = None,
        base_url: str | None = None,
        token_endpoint: Literal["stable_token", "token"] = "stable_token",
        timeout: float = 30.0,
        client_options: Mapping[str, Any] | None = None,
        proxy: str | None = None,
    ) -> None:
        if not access_token and not (appid and secret):
            raise ConfigurationError(
                "WeChatEngine needs appid and secret, or access_token "
                "(or use WeChatEngine.from_env() with WECHAT_APPID/WECHAT_SECRET)"
            )
        self._appid = appid
        self._secret = secret
        self._access_token = access_token
        self.base_url = check_base_url(base_url or DEFAULT_BASE_URL)
        self._token_endpoint = token_endpoint
        self._timeout = timeout
        self._client_options = dict(client_options or {})
        if proxy is not None:
            check_proxy(proxy)
            if {"transport", "http_client"} & self._client_options.keys():
                raise ConfigurationError(
                    "pass proxy= or client_options transport/http_client, not both"
                )
        self._proxy = proxy
        self._client: AsyncWeChatClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> WeChatEngine:
        """Build from ``WECHAT_APPID``, ``WECHAT_SECRET`` (or ``WECHAT_ACCESS_TOKEN``) and
        ``WECHAT_BASE_URL``; keyword arguments (``proxy=`` too) override the environment."""
        env = os.environ if env is None else env
        kwargs: dict[str, Any] = {
            "appid": env.get("WECHAT_APPID") or None,
            "secret": env.get("WECHAT_SECRET") or None,
            "access_token": env.get("WECHAT_ACCESS_TOKEN") or None,
            "base_url": env.get("WECHAT_BASE_URL") or None,
        }
        kwargs.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kwargs)

    @property
    def identity(self) -> str:
        """``"wechat"`` for the platform; ``"wechat@scheme://host[:port]/~DIGEST"`` otherwise.

        Answers from a gateway or emulator must not mix with the platform's, nor with
        another backend's: scheme and host lower-case, default port dropped, never the user
        info; the path (no trailing slash) enters as the first 12 hex digits of its sha256,
        because gateways put keys in paths and the identity is written to Parquet metadata
        and cache exports.  The account is not part of it (answers do not depend on it), so
        two appids on one backend share cached answers.
        """
        where = _backend(self.base_url)
        return "wechat" if where == _backend(DEFAULT_BASE_URL) else f"wechat@{where}"

    @property
    def proxy(self) -> str | None:
        """The explicit proxy (None: the environment's proxies, if any)."""
        return self._proxy

    def __repr__(self) -> str:
        parts = urlsplit(self.base_url)  # a gateway URL may carry user:password
        netloc = parts.netloc.rpartition("@")[2]  # and a query or fragment a signature
        shown = parts._replace(netloc=netloc, query="", fragment="").geturl()
        text = f"WeChatEngine(appid={self._appid!r}, base_url={shown!r}"
        if self._proxy is not None:
            text += f", proxy={shown_proxy(self._proxy)!r}"
        return text + ")"

    def _get_client(self) -> AsyncWeChatClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # an httpx.AsyncClient belongs to the loop that opened its connections
            options = dict(self._client_options)
            if "http_client" not in options and "transport" not in options:
                transport, mounts = default_transports(self._proxy, options.pop("limits", None))
                options.update(transport=transport, mounts=mounts)
            self._client = AsyncWeChatClient(
                appid=self._appid,
                secret=self._secret,
                access_token=self._access_token,
                base_url=self.base_url,
                token_endpoint=self._token_endpoint,
                timeout=self._timeout,
                **options,
            )
            self._loop = loop
        return self._client

    async def arecognize(
        self, kind: str, image: bytes | None = None, *, img_url: str | None = None
    ) -> Answer:
        client = self._get_client()
        try:
            answer: Answer = await client.request(kind, image, img_url=img_url)
        except (TransportError, ImageError) as exc:  # per-image problems are row results
            return {"errcode": exc.errcode or E_TRANSPORT, "errmsg": exc.message, "rid": exc.rid}
        return answer

    async def aclose(self) -> None:
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.aclose()


def _backend(base_url: str) -> str:
    """``scheme://host[:port]/path`` of a base URL, normalised (see ``identity``)."""
    url = httpx.URL(base_url)  # lower-cases scheme and host (IDNA), removes dot segments
    host = url.raw_host.decode("ascii")
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(url.scheme)
    port = "" if url.port in (None, default) else f":{url.port}"
    path = url.raw_path.split(b"?", 1)[0].rstrip(b"/")  # still %-encoded
    digest = f"/~{hashlib.sha256(path).hexdigest()[:12]}" if path else ""
    return f"{url.scheme}://{host}{port}{digest}"
