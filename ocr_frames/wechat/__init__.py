"""The WeChat OCR HTTP client, async (:class:`AsyncWeChatClient`) and sync (:class:`WeChatClient`),
and :class:`WeChatEngine`, the engine built on it.

Usage::

    from ocr_frames.wechat import AsyncWeChatClient, WeChatClient

    with WeChatClient(appid="wx...", secret="...") as client:
        answer = client.request("idcard", image_bytes)       # the answer dict, any errcode
        answer = client.ocr("bankcard", img_url="https://...")  # raises unless errcode == 0

    async with AsyncWeChatClient(access_token="...", base_url=emulator.base_url) as client:
        answer = await client.ocr("comm", image_bytes)

``request`` returns the *answer dict* of ``docs/architecture.md`` whatever its errcode;
``ocr`` returns it only when errcode is 0.  Responses become answers in one function,
:func:`parse_response`.  Configuration is keyword-only, with the ``DEFAULT_*`` constants
below; ``transport=`` (e.g. ``httpx.MockTransport``), httpx ``mounts=`` (e.g. proxies per
URL pattern) or a ready ``http_client=`` can be injected, and ``base_url`` points the
client at a gateway or at :class:`ocr_frames.testing.WeChatEmulator`.

One implementation
    :class:`AsyncWeChatClient` is the client; :class:`WeChatClient` is a thin blocking
    wrapper that runs it on a private event loop (why, and what that costs: see
    :mod:`ocr_frames.wechat._client`).  Both have the same deadline: ``deadline`` seconds
    for the whole call (connect, send, every byte of the answer), an ``asyncio.timeout``
    that stops a stalled or trickling server at once and never swallows a cancel.

Tokens
    With ``appid`` + ``secret`` the token comes from ``POST /cgi-bin/stable_token``
    (``token_endpoint="token"`` uses ``GET /cgi-bin/token``, which invalidates the token
    other processes hold).  It is cached until ``refresh_margin`` seconds (or 10% of its
    lifetime, if shorter) before it expires.  When an OCR call answers 40001/42001 the
    token is refreshed once, compare-and-swap style (only if the cached token is still the
    one that failed, so N concurrent failures cost one token call; ``force_refresh`` only
    if stable_token hands the failing token back), and the call is retried once.  A fixed
    ``access_token`` is never refreshed; given together with ``appid`` + ``secret`` it is
    only the first token, replaced the usual way once the platform refuses it.

Exceptions (from :mod:`ocr_frames._errors`; no ``httpx`` error escapes)
    * ``ConfigurationError``: unknown kind, bad option, no credentials; a token call
      answering 40013/40125 (wrong appid/secret).
    * ``AuthError``: a token call answering any other errcode.
    * ``ImageError``, raised before anything is sent: image of 2 MB or more (900005),
      empty (900004), neither ``img`` nor ``img_url`` (900000), both or a wrong type
      (900008).
    * ``TransportError``: network failure, timeout, HTTP 5xx (900009); a body that is not
      a JSON object, not UTF-8, too deep or larger than ``max_response_bytes`` (900010).
    * ``ocr`` only, for errcode != 0: ``error_for_code(errcode)`` - ``AuthError``
      (40001/42001 after the one refresh), ``QuotaExceeded`` (45009/101003),
      ``RateLimited`` (45011), ``ConfigurationError`` (48001/61007), ``RecognitionError``
      (-1, 101000, 101001, 101002, ...).

Secrets: the access token and the secret appear in no exception message, no ``repr`` and
no log line.  Creating a client installs (once) a filter on the ``httpx`` and ``httpcore``
loggers that rewrites ``access_token=...``/``secret=...`` as ``***``.
"""

from __future__ import annotations

from ocr_frames.wechat._client import (
    DEFAULT_BASE_URL,
    DEFAULT_DEADLINE,
    DEFAULT_LIMITS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    DEFAULT_TOKEN_ENDPOINT,
    AsyncWeChatClient,
    WeChatClient,
)
from ocr_frames.wechat._config import MAX_IMAGE_BYTES
from ocr_frames.wechat._engine import WeChatEngine
from ocr_frames.wechat._parse import parse_response
from ocr_frames.wechat._token import DEFAULT_REFRESH_MARGIN

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_DEADLINE",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_REFRESH_MARGIN",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TOKEN_ENDPOINT",
    "MAX_IMAGE_BYTES",
    "AsyncWeChatClient",
    "WeChatClient",
    "WeChatEngine",
    "parse_response",
]
