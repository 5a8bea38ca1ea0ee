"""The exception tree and the table of error codes (platform and local).

Exception tree::

    OCRError                      base of everything this library raises
    ├── ConfigurationError        bad appid/secret (40013, 40125), unknown kind, bad option,
    │                             API not authorised (48001, 61007)
    ├── AuthError                 token could not be obtained or stayed invalid (40001, 42001,
    │                             41001) after the one refresh we allow
    ├── QuotaExceeded             daily quota gone (45009) or no market quota (101003):
    │                             stop sending, keep what was done
    ├── RateLimited               minute quota reached (45011): slow down and retry
    ├── TransportError            network failure, timeout, HTTP 5xx, invalid response body
    ├── ImageError                the image itself is unusable (missing, too big, not an image,
    │                             download failed) - detected locally, never billed
    └── RecognitionError          any other non-zero platform errcode (e.g. -1, 101001)

Every exception carries ``errcode`` (int or ``None``) and ``rid`` (the platform's request
id, or ``None``).  Messages never contain the access token or the secret: the client
redacts them in the one place that turns lower-level errors into this tree
(``ocr_frames.wechat``).

Error codes
-----------
Row-level results use the platform's ``errcode`` semantics (0 = ok).  Conditions detected
on this machine get codes of their own in the reserved range 900000-900099, listed in
:data:`LOCAL_CODES`; platform codes are listed in :data:`PLATFORM_CODES`.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CACHEABLE_CODES",
    "LOCAL_CODES",
    "PLATFORM_CODES",
    "RETRYABLE_CODES",
    "AuthError",
    "ConfigurationError",
    "ImageError",
    "OCRError",
    "QuotaExceeded",
    "RateLimited",
    "RecognitionError",
    "TransportError",
    "error_for_code",
]

# --- local codes (never sent by the platform) --------------------------------------
E_NULL: Final = 900000
E_MISSING: Final = 900001
E_NOT_A_FILE: Final = 900002
E_UNREADABLE: Final = 900003
E_EMPTY: Final = 900004
E_TOO_LARGE: Final = 900005
E_NOT_IMAGE: Final = 900006
E_DOWNLOAD: Final = 900007
E_BAD_INPUT: Final = 900008
E_TRANSPORT: Final = 900009
E_BAD_RESPONSE: Final = 900010
E_NOT_DONE: Final = 900011
E_ENGINE: Final = 900012
E_URL_REFUSED: Final = 900013

LOCAL_CODES: Final[dict[int, str]] = {
    E_NULL: "no image: the input value is null",
    E_MISSING: "file not found",
    E_NOT_A_FILE: "path is not a regular file (directory, device, ...)",
    E_UNREADABLE: "file could not be read (permissions, I/O error, undecodable path)",
    E_EMPTY: "file or download is empty",
    E_TOO_LARGE: "image over the 2 MB platform limit that could not be shrunk (not sent)",
    E_NOT_IMAGE: "not a supported image or document (JPEG, PNG, BMP, GIF, WebP, TIFF, HEIC, PDF)",
    E_DOWNLOAD: "URL download failed (HTTP error, timeout, size cap, bad scheme)",
    E_BAD_INPUT: "unsupported input value type",
    E_TRANSPORT: "network failure talking to the engine (after retries)",
    E_BAD_RESPONSE: "engine returned an invalid response (not JSON, wrong types, too large)",
    E_NOT_DONE: "not attempted: the run stopped early (quota exhausted or cancelled)",
    E_ENGINE: "the local engine failed on this image",
    E_URL_REFUSED: "URL refused by the download policy: a link-local or cloud-metadata "
    "address (loopback/private too with url_private=False); see url_allow_hosts",
}

PLATFORM_CODES: Final[dict[int, str]] = {
    0: "ok",
    -1: "system error (retried with backoff)",
    40001: "access token invalid or not the latest",
    40013: "invalid appid",
    40125: "invalid appsecret",
    41001: "access token missing",
    42001: "access token expired",
    43002: "require POST method",
    44002: "empty POST body",
    45009: "daily API quota reached",
    45011: "API minute quota reached",
    48001: "API not authorised for this account",
    61007: "API not authorised for this third party",
    101000: "invalid image URL or the platform could not download it",
    101001: "certificate not found in image",
    101002: "invalid image data",
    101003: "not enough market quota",
}

#: Answers that are a property of the image bytes: stored in the cache.
CACHEABLE_CODES: Final = frozenset({0, 101001, 101002})
#: Transient platform codes worth another try with backoff.
RETRYABLE_CODES: Final = frozenset({-1, 45011})
#: Codes that mean "stop sending, keep what is done".
QUOTA_CODES: Final = frozenset({45009, 101003})
#: Codes that mean the token must be refreshed once.
TOKEN_CODES: Final = frozenset({40001, 42001})
#: Codes that mean the configuration is wrong for every row.
CONFIG_CODES: Final = frozenset({40013, 40125, 48001, 61007})


class OCRError(Exception):
    """Base class of every error raised by ocr-frames."""

    def __init__(self, message: str, *, errcode: int | None = None, rid: str | None = None):
        super().__init__(message)
        self.message = message
        self.errcode = errcode
        self.rid = rid

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self.message!r}, errcode={self.errcode!r}, rid={self.rid!r})"

    def __str__(self) -> str:
        parts = [self.message]
        if self.errcode is not None:
            parts.append(f"[errcode {self.errcode}]")
        if self.rid:
            parts.append(f"(rid {self.rid})")
        return " ".join(parts)


class ConfigurationError(OCRError):
    """Wrong credentials, unknown kind, bad option: fix the configuration, do not retry."""


class AuthError(OCRError):
    """The access token could not be obtained or stayed invalid after one refresh."""


class QuotaExceeded(OCRError):
    """The daily (45009) or market (101003) quota is spent: stop, keep what was done."""


class RateLimited(OCRError):
    """The minute quota (45011) was hit: slow down and retry later."""


class TransportError(OCRError):
    """Network failure, timeout, HTTP 5xx or an invalid response body."""


class ImageError(OCRError):
    """The image is unusable (detected locally, nothing was billed)."""


class RecognitionError(OCRError):
    """Any other non-zero errcode returned for one image."""


def error_for_code(errcode: int, errmsg: str, rid: str | None = None) -> OCRError:
    """Map a non-zero errcode to the matching exception (never raises itself)."""
    if errcode in QUOTA_CODES:
        cls: type[OCRError] = QuotaExceeded
    elif errcode == 45011:
        cls = RateLimited
    elif errcode in CONFIG_CODES:
        cls = ConfigurationError
    elif errcode in TOKEN_CODES or errcode == 41001:
        cls = AuthError
    elif errcode in (E_TRANSPORT, E_BAD_RESPONSE):
        cls = TransportError
    elif errcode in LOCAL_CODES:
        cls = ImageError
    else:
        cls = RecognitionError
    return cls(errmsg or PLATFORM_CODES.get(errcode, "error"), errcode=errcode, rid=rid)
