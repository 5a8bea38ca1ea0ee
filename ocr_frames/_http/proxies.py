"""Which proxy each request goes through: ``HTTP(S)_PROXY``, ``ALL_PROXY``, ``NO_PROXY``
read exactly as httpx reads them, or one explicit proxy for everything.

httpx applies the environment's proxies only when no ``transport=`` is given, and
ocr-frames gives one (its lean transport for OCR calls, a pinning one for downloads), so the
routing is rebuilt here and handed to httpx as ``mounts=``: httpx's public, documented
routing (``URLPattern``: most specific pattern first) then picks a proxy transport, or the
client's own transport for a ``NO_PROXY`` host.  The table is the one
``httpx.AsyncClient(trust_env=True)`` builds from :func:`urllib.request.getproxies`
(httpx's helper for it is private; ``tests/test_proxies.py`` checks the two agree).
An explicit ``proxy=`` routes every URL through it, ``NO_PROXY`` included, as in httpx.

Proxy URLs may carry ``user:password``: it goes into the ``Proxy-Authorization`` header
only, never into a message, a ``repr`` or a log line (:func:`shown_proxy`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from importlib.util import find_spec
from typing import Final, TypeVar
from urllib.request import getproxies

import httpx

from ocr_frames._errors import ConfigurationError

__all__ = ["check_proxy", "environment_proxies", "proxy_mounts", "proxy_routes", "shown_proxy"]

_PROXY_SCHEMES: Final = ("http", "https", "socks5", "socks5h")
T = TypeVar("T")


def environment_proxies() -> dict[str, str | None]:
    """The environment's routes as ``mounts`` keys: a proxy URL, or None for "direct"."""
    found = getproxies()
    routes: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        if found.get(scheme):
            url = found[scheme]
            routes[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    for host in (h.strip() for h in found.get("no", "").split(",")):
        if host == "*":  # NO_PROXY=* turns every proxy off
            return {}
        if not host:
            continue
        if "://" in host:
            routes[host] = None
        elif _is_ip(host, 4):
            routes[f"all://{host}"] = None
        elif _is_ip(host, 6):
            routes[f"all://[{host}]"] = None
        elif host.lower() == "localhost":
            routes[f"all://{host}"] = None
        else:  # curl's rule: "example.com" covers its subdomains too
            routes[f"all://*{host}"] = None
    return routes


def _is_ip(host: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(host.split("/")[0]).version == version
    except ValueError:
        return False


def check_proxy(url: str | httpx.URL) -> httpx.Proxy:
    """An :class:`httpx.Proxy` for ``url``, or a ConfigurationError that shows no password."""
    try:
        proxy = httpx.Proxy(url)
    except (ValueError, TypeError, httpx.InvalidURL):
        raise ConfigurationError(
            f"invalid proxy URL {shown_proxy(url)!r} (schemes: {', '.join(_PROXY_SCHEMES)})"
        ) from None
    if proxy.url.scheme.startswith("socks") and find_spec("socksio") is None:
        raise ConfigurationError(
            f"proxy {shown_proxy(url)!r} is a SOCKS proxy: pip install 'httpx[socks]'"
        )
    return proxy


def proxy_routes(proxy: str | None) -> dict[str, httpx.Proxy | None]:
    """Routes for ``proxy`` (everything through it) or, when None, for the environment."""
    if proxy is not None:
        return {"all://": check_proxy(proxy)}
    return {
        key: None if url is None else check_proxy(url) for key, url in environment_proxies().items()
    }


def proxy_mounts(
    routes: dict[str, httpx.Proxy | None], make: Callable[[httpx.Proxy], T]
) -> dict[str, T | None]:
    """``mounts=`` for an httpx client: ``make(proxy)`` for proxied routes, None (the
    client's own transport) for direct ones; one transport per distinct proxy."""
    made: dict[tuple[str, object], T] = {}
    mounts: dict[str, T | None] = {}
    for key, proxy in routes.items():
        if proxy is None:
            mounts[key] = None
            continue
        name = (str(proxy.url), proxy.raw_auth)
        if name not in made:
            made[name] = make(proxy)
        mounts[key] = made[name]
    return mounts


def shown_proxy(url: str | httpx.URL | None) -> str:
    """``url`` without user name or password (for messages and reprs)."""
    if url is None:
        return "None"
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    host = rest.split("/", 1)[0].rpartition("@")[2]
    return f"{scheme}{sep}{host}"
