"""A loopback emulator of the WeChat OCR platform, for tests, demos and benchmarks.

>>> from ocr_frames.testing import WeChatEmulator
>>> with WeChatEmulator(latency=0.05) as emu:            # doctest: +SKIP
...     engine = WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)

or from a shell, until Ctrl-C / SIGTERM::

    python -m ocr_frames.testing serve --port 8999 --latency 0.1

:class:`WeChatEmulator` is a real HTTP/1.1 server on 127.0.0.1 (``port=0`` picks a free
port), run by asyncio on its own event loop in a daemon thread; ``latency`` (± uniform
``jitter``) is an ``asyncio.sleep``, so concurrent requests wait it out in parallel.  It
speaks keep-alive HTTP/1.1 with ``Content-Length`` bodies and refuses chunked bodies
(400), bodies over 16 MB (413) and heads over 64 KB (431); no input, however malformed,
stops it.  ``stop()`` closes every connection, abandoning answers in flight.
``appid``/``secret`` default to :data:`DEFAULT_APPID`/:data:`DEFAULT_SECRET`, made-up
credentials that are no secret.

Endpoints (as in ``PROTOCOL.md``)
---------------------------------
``GET /cgi-bin/token?grant_type=client_credential&appid=A&secret=S``
    Always a new token ``{"access_token": T, "expires_in": N}``; the older tokens of this
    endpoint answer 40001 once ``token_grace`` seconds have passed.
``POST /cgi-bin/stable_token`` with JSON ``{grant_type, appid, secret, force_refresh}``
    The same token while it is valid (``expires_in`` is what is left of it); a new one,
    retiring the older stable tokens after the grace, when ``force_refresh`` is true.
    The two endpoints are isolated from each other, as on the platform.  Wrong appid →
    40013, wrong secret → 40125, missing ones → 41002/41004, other grant_type → 40002,
    GET → 43002, body not a JSON object → 47001.  Tokens expire after ``token_ttl``
    (42001).
``POST /cv/ocr/<kind>?access_token=T`` for the 8 kinds of :data:`ocr_frames.KINDS`
    The image is the multipart part ``img`` or is downloaded from ``img_url`` (only
    from 127.0.0.1, localhost or ::1, within 5 s; otherwise 101000).  Checks, in order:
    method (43002), token (41001 missing, 40001 invalid or retired, 42001 expired), quota
    (45011 minute, 45009 daily, 101003 market), injected faults, image (44002 none, 101002
    when 2 MB or larger or not a JPEG/PNG/GIF/BMP/TIFF/WebP).  Then the answer registered
    for (sha256, kind); 101001 if the sha256 is registered for other kinds only; else
    :meth:`WeChatEmulator.fallback_answer`.  An unknown kind or path is HTTP 404.

Errors are HTTP 200 ``{"errcode": N, "errmsg": "text rid: 6xxxxxxx-xxxxxxxx-xxxxxxxx"}``
with a new ``rid`` each time; answers are ``{"errcode": 0, "errmsg": "ok", ...}``.

Switches (all thread-safe, all changeable while running)
--------------------------------------------------------
* Plain attributes: ``latency``, ``jitter``, ``token_ttl``, ``token_grace``,
  ``minute_quota``, ``daily_quota``, ``market_quota`` (``None`` = unlimited), ``appid``,
  ``secret``.  Quotas count admitted calls: more than ``minute_quota`` in the current
  :data:`MINUTE_WINDOW` (``reset_minute()`` starts a new one) or than ``daily_quota`` /
  ``market_quota`` in the current day (only ``reset_day()`` starts a new one).
* ``quirks``: a frozenset of names from :data:`QUIRKS` - ``string_errcode`` (``"0"``),
  ``text_plain`` (Content-Type text/plain), ``vhicle_type`` (driving), ``bankcard_id``
  (bankcard ``id`` instead of ``number``).  ``emu.quirks |= {"text_plain"}`` works.
* ``set_faults(system_error=, http_500=, drop=, bad_json=)``: probabilities per admitted
  OCR call of errcode -1, an HTTP 500 HTML page, a connection closed without answer, a
  truncated JSON body; drawn from a generator seeded by ``seed``.  ``fail_next(n, errcode=,
  http_status=, drop=)`` fails the next n admitted calls for certain (default errcode -1;
  ``http_status`` alone sends an HTML page, with ``errcode`` a JSON error body).
* ``register(image, kind, answer)``: the raw platform body to answer (errcode 0 and
  errmsg "ok" added when absent); ``image`` is bytes or their sha256 hex.
* Tokens: ``issue_token()`` (the current stable token, no HTTP call), ``expire_tokens()``
  (42001 for all issued so far), ``invalidate_tokens()`` (40001 for all issued so far).

Counters (snapshots, thread-safe)
---------------------------------
``billed`` (Counter by image sha256; key ``""`` for calls that carried no image bytes),
``total_billed``, ``token_calls`` (keys ``"token"``, ``"stable_token"``), ``refused``
(Counter by errcode of OCR calls refused before billing: 40001, 42001, 45011...), ``requests``
(every well-formed HTTP request); ``reset_counters()`` zeroes them.  Every OCR call that
passed the token and quota checks is billed, whatever it answered (-1, 101001, 101002,
an injected HTTP 500 or dropped connection included): every call that reached the
platform costs money.
"""

from __future__ import annotations

from ocr_frames._server.images import FETCH_TIMEOUT
from ocr_frames._server.loopback import DEFAULT_MAX_BODY
from ocr_frames._server.protocol import ERRMSG
from ocr_frames._sources.limits import MAX_IMAGE_BYTES
from ocr_frames.testing._emulator import (
    DEFAULT_APPID,
    DEFAULT_HOST,
    DEFAULT_SECRET,
    DEFAULT_TOKEN_TTL,
    MINUTE_WINDOW,
    QUIRKS,
    WeChatEmulator,
)

__all__ = [
    "DEFAULT_APPID",
    "DEFAULT_HOST",
    "DEFAULT_MAX_BODY",
    "DEFAULT_SECRET",
    "DEFAULT_TOKEN_TTL",
    "ERRMSG",
    "FETCH_TIMEOUT",
    "MAX_IMAGE_BYTES",
    "MINUTE_WINDOW",
    "QUIRKS",
    "WeChatEmulator",
]
