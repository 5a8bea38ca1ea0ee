"""The options of a run: one frozen :class:`RunOptions`, its defaults and its validation.

Every entry point takes the same run options as keywords, built into one
:class:`RunOptions`: :func:`ocr_frames.recognize`, :func:`~ocr_frames.arecognize`,
:func:`~ocr_frames.recognize_arrow`, :func:`~ocr_frames.recognize_to_parquet`,
``df.ocr.recognize``, :func:`ocr_frames.dask.recognize` and ``ocr-frames run`` (one flag
per option, its argparse ``dest`` the field's name).

What is *not* a run option, because it says what to read, who answers, or where the
result goes, is an entry point's own parameter: ``images`` (``column`` for the accessor
and Dask) and ``kind``; ``engine`` and ``cache_dir`` (every entry point); ``path``,
``file_mode`` and ``report`` (:func:`~ocr_frames.recognize_to_parquet`); ``prefix``
(accessor, Dask); ``join``, ``limiter_name`` and ``client`` (Dask); the CLI's input,
engine and cache flags.  ``tests/run/test_options.py`` holds each entry point to exactly
this: the fields below plus its documented extras.

The public functions take ``**options: Unpack[RunKeywords]`` and :func:`run_entry` writes
the fields, with their defaults, into the function's signature, so ``help()``,
``inspect.signature`` and IDEs show them all while the list itself is written here only
(:class:`RunKeywords` repeats names and types for static checkers; the test compares them).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final, Literal, TypedDict, TypeVar, overload

from ocr_frames._engine.policy import DEFAULT_CONCURRENCY, Limiter, RetryPolicy
from ocr_frames._errors import ConfigurationError
from ocr_frames._http.urlpolicy import UrlPolicy
from ocr_frames._sources.limits import DEFAULT_DOWNLOAD_TIMEOUT, MAX_IMAGE_BYTES
from ocr_frames.checks import DEFAULT_REVIEW_THRESHOLD  # defined beside the review itself

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_REVIEW_THRESHOLD",
    "ON_ERROR_MODES",
    "URL_MODES",
    "RunKeywords",
    "RunOptions",
    "run_entry",
]

#: The values ``url_mode`` and ``on_error`` take (the CLI's choices too).
URL_MODES: Final = ("download", "passthrough")
ON_ERROR_MODES: Final = ("keep", "raise")

DEFAULT_CHUNK_SIZE: Final = 256
#: Image bytes a chunk holds at most (page renderings included; a bigger row goes alone).
DEFAULT_CHUNK_BYTES: Final = 16 * 1024 * 1024

F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How a run goes; every field has its default and is checked when built, its type
    as well as its value (ConfigurationError): a count is an ``int`` (not a ``bool``), a
    rate or a timeout any real number, an on/off option a ``bool``.

    ``concurrency`` calls at once; ``rate_limit`` calls per second (or a
    :class:`~ocr_frames.Limiter`); ``retry`` the :class:`~ocr_frames.RetryPolicy`;
    ``progress`` a progress bar; ``on_error="raise"`` raises the first row error after the
    run (every answer is cached by then).  ``url_mode``: ``"download"`` URLs here and hash
    them, or ``"passthrough"`` as ``img_url``; ``max_bytes`` the platform's image limit;
    ``chunk_size`` rows and ``chunk_bytes`` image bytes per chunk; ``download_timeout``
    seconds per URL; ``shrink`` re-encodes what the platform cannot take;
    ``storage_options`` go to fsspec; ``url_allow_hosts`` / ``url_private`` make the URL
    policy.  ``checks`` adds the ``check_*`` columns (expiry judged ``as_of``, default
    today), then ``mask`` masks personal data.  ``quality`` adds ``quality_score`` and the
    ``warn_*`` columns of each image.  With ``checks`` or ``quality``, ``needs_review`` and
    ``review_reasons`` come last; a field whose ``<field>_conf`` is below
    ``review_threshold`` (0 to 1) is one of the reasons.
    """

    concurrency: int = DEFAULT_CONCURRENCY
    rate_limit: float | Limiter | None = None
    retry: RetryPolicy | None = None
    progress: bool = True
    on_error: Literal["keep", "raise"] = "keep"
    url_mode: Literal["download", "passthrough"] = "download"
    max_bytes: int = MAX_IMAGE_BYTES
    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT
    shrink: bool = True
    storage_options: Mapping[str, Any] | None = None
    url_allow_hosts: Sequence[str] | None = None
    url_private: bool = True
    checks: bool = False
    as_of: date | None = None
    mask: bool = False
    quality: bool = False
    review_threshold: float = DEFAULT_REVIEW_THRESHOLD

    def __post_init__(self) -> None:
        for name in _COUNTS:
            self._set(name, _count(name, getattr(self, name)))
        if not isinstance(self.rate_limit, (Limiter, type(None))):
            self._set("rate_limit", _positive("rate_limit", self.rate_limit, "calls per second"))
        self._set(
            "download_timeout", _positive("download_timeout", self.download_timeout, "seconds")
        )
        if not isinstance(self.retry, (RetryPolicy, type(None))):
            raise ConfigurationError(
                f"retry must be a RetryPolicy (e.g. RetryPolicy(max_attempts=3)) or None, "
                f"not {_typed(self.retry)}"
            )
        for name in _FLAGS:
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(
                    f"{name} must be True or False, not {_typed(getattr(self, name))}"
                )
        self._set("review_threshold", _fraction("review_threshold", self.review_threshold))
        _one_of("on_error", self.on_error, ON_ERROR_MODES)
        _one_of("url_mode", self.url_mode, URL_MODES)
        if self.as_of is not None and not isinstance(self.as_of, date):
            raise ConfigurationError(
                f"as_of must be a datetime.date, not {type(self.as_of).__name__}"
            )
        if isinstance(self.as_of, datetime):
            self._set("as_of", self.as_of.date())
        hosts = self.url_allow_hosts
        if hosts is not None:
            if isinstance(hosts, (str, bytes)) or not isinstance(hosts, Iterable):
                raise ConfigurationError(
                    f"url_allow_hosts must be a list of host names, not {_typed(hosts)}"
                )
            self._set("url_allow_hosts", tuple(hosts))
            self.url_policy  # noqa: B018  (checks each host name)
        if self.storage_options is not None:
            self._set("storage_options", _keywords("storage_options", self.storage_options))

    def _set(self, name: str, value: Any) -> None:
        """Store the checked (normalised) ``value`` of field ``name`` (the class is frozen)."""
        object.__setattr__(self, name, value)

    @functools.cached_property
    def url_policy(self) -> UrlPolicy:
        """The :class:`~ocr_frames._http.urlpolicy.UrlPolicy` of ``url_allow_hosts`` and
        ``url_private`` (raises ConfigurationError for a bad host list)."""
        return UrlPolicy(self.url_allow_hosts, private=self.url_private)

    @property
    def audited(self) -> bool:
        """Checks, review or masking to apply to the rows (see :mod:`ocr_frames._run.audit`)."""
        return self.checks or self.mask or self.quality

    @property
    def reviewed(self) -> bool:
        """Whether the rows get ``needs_review`` and ``review_reasons``."""
        return self.checks or self.quality

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The field names, in order (the run options every entry point accepts)."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def default(cls, name: str) -> Any:
        """The default of field ``name``."""
        return _FIELDS[name].default

    def as_keywords(self) -> dict[str, Any]:
        """The fields as keywords of any entry point."""
        return {name: getattr(self, name) for name in self.names()}


_FIELDS: Final = {f.name: f for f in dataclasses.fields(RunOptions)}


class RunKeywords(TypedDict, total=False):
    """The fields of :class:`RunOptions` as keywords (for ``**options``: static checkers
    and IDEs see each name and type; ``tests/run/test_options.py`` keeps them equal)."""

    concurrency: int
    rate_limit: float | Limiter | None
    retry: RetryPolicy | None
    progress: bool
    on_error: Literal["keep", "raise"]
    url_mode: Literal["download", "passthrough"]
    max_bytes: int
    chunk_size: int
    chunk_bytes: int
    download_timeout: float
    shrink: bool
    storage_options: Mapping[str, Any] | None
    url_allow_hosts: Sequence[str] | None
    url_private: bool
    checks: bool
    as_of: date | None
    mask: bool
    quality: bool
    review_threshold: float


#: The fields that count something (an ``int`` >= 1), and the on/off ones (a ``bool``).
_COUNTS: Final = ("concurrency", "max_bytes", "chunk_size", "chunk_bytes")
_FLAGS: Final = ("progress", "shrink", "url_private", "checks", "mask", "quality")


def _typed(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


def _count(name: str, value: object) -> int:
    """``value`` as an ``int`` >= 1 (any integer type, never a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigurationError(f"{name} must be a whole number, not {_typed(value)}")
    if not (count := int(value)) >= 1:
        raise ConfigurationError(f"{name} must be >= 1, got {count}")
    return count


def _positive(name: str, value: object, unit: str) -> float:
    """``value`` as a finite ``float`` > 0 (ints too, never a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigurationError(f"{name} must be a number of {unit}, not {_typed(value)}")
    if not ((number := float(value)) > 0 and math.isfinite(number)):
        raise ConfigurationError(f"{name} must be > 0 {unit} (and finite), got {value}")
    return number


def _fraction(name: str, value: object) -> float:
    """``value`` as a ``float`` from 0 to 1 (ints too, never a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigurationError(f"{name} must be a number from 0 to 1, not {_typed(value)}")
    if not 0 <= (number := float(value)) <= 1:  # NaN fails too
        raise ConfigurationError(f"{name} must be from 0 to 1, got {value}")
    return number


def _keywords(name: str, value: object) -> dict[str, Any]:
    """``value`` as a dict of keyword arguments (a mapping with text keys)."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigurationError(
            f"{name} must be a mapping of option names to values (a dict), not {_typed(value)}"
        )
    return dict(value)


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        choices = " or ".join(repr(a) for a in allowed)
        raise ConfigurationError(f"{name} must be {choices}, not {value!r}")


@overload
def run_entry(func: F) -> F: ...


@overload
def run_entry(func: None = None, **defaults: Any) -> Callable[[F], F]: ...


def run_entry(func: F | None = None, **defaults: Any) -> F | Callable[[F], F]:
    """Decorate an entry point taking ``**options: Unpack[RunKeywords]``: its signature
    (``help()``, ``inspect.signature``) lists every field of :class:`RunOptions` as a
    keyword with its default (``defaults`` overrides some, e.g. Dask's ``progress=False``).
    The function itself is returned unchanged."""

    def decorate(fn: F) -> F:
        sig = inspect.signature(fn)
        params = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
        for f in dataclasses.fields(RunOptions):
            default = defaults.get(f.name, f.default)
            params.append(
                inspect.Parameter(
                    f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=f.type
                )
            )
        fn.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        return fn

    return decorate(func) if func is not None else decorate
