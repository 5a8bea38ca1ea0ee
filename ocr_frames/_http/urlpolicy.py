"""Which addresses image downloads may reach: the URL policy (against SSRF).

A URL in a column is data, often someone else's: without a policy it could make this
machine fetch the cloud metadata service (``http://169.254.169.254/...``), an admin page on
loopback, or redirect into them.  :class:`UrlPolicy`:

* always refused: link-local and cloud-metadata addresses - ``169.254.0.0/16``,
  ``fe80::/10``, ``100.100.100.200`` (Alibaba Cloud), ``fd00:ec2::254`` (AWS over IPv6),
  ``192.0.0.192`` (Oracle Cloud);
* refused too with ``private=False``: loopback (``127.0.0.0/8``, ``::1``), unspecified
  (``0.0.0.0/8``, ``::``, which reach the local host), RFC 1918 (``10/8``, ``172.16/12``,
  ``192.168/16``), shared address space (``100.64.0.0/10``) and ULA (``fc00::/7``);
* an IPv6 address carrying an IPv4 one (mapped ``::ffff:a.b.c.d``, IPv4-compatible
  ``::a.b.c.d``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96`` and local-use ``64:ff9b:1::/48``
  in every RFC 6052 layout) is refused when that IPv4 address is;
* hosts in ``allow_hosts`` (names or addresses, compared exactly, case-insensitively) are
  never checked.

The check is made on the address actually connected to.  :func:`download_client` builds an
httpx client whose transport is an httpcore pool with a network backend that resolves the
host (``getaddrinfo``), refuses it if *any* of its addresses is refused, and connects to the
checked address itself, so DNS cannot change between the check and the connection
(rebinding); TLS (SNI, certificate) and the ``Host`` header still use the name, since
httpcore hands the name to TLS separately.  Redirects are followed by hand in
:mod:`ocr_frames._sources.download`, each hop a new request through the same transport, so every hop
is checked.  A refusal is decided before any connection, from the address alone: its
message is the same whether anything listens there or not.

Through a proxy (``HTTP(S)_PROXY``, ``proxy=``; see :mod:`ocr_frames._http.proxies`) the proxy
resolves and connects, not us: only an address literal (in any spelling a resolver reads
as one: ``127.1``, ``2130706433``...) and ``localhost`` are judged here; any other name is
not resolved locally (no DNS leak, no resolver wait on proxy-only networks) and passes -
what it points to is the proxy's to police.  A client passed in by the caller
(``download(client=...)``) gets the resolving check before each hop, without pinning.

fsspec paths in a column (:meth:`UrlPolicy.fsspec_refusal`) are read by their backends,
which connect by themselves: a path with a link (of its ``::`` chain, or nested in one)
whose protocol reaches a host the value names - :data:`NETWORK_PROTOCOLS`: ``http(s)``,
``ftp``, ``sftp``/``ssh``, ``smb``, ``(web)hdfs``, ``webdav``, ``root`` (XRootD), and
``reference``/``generic``, which fetch further URLs of any protocol - is refused, whatever
``private`` says, unless the link's host is in ``allow_hosts``; such an allowed host is
trusted as it stands (its address is not checked, and the backend follows its redirects
unchecked).  Storage services (``s3``, ``gs``/``gcs``, ``az``/``abfs``/``adl``, ``oss``,
``hf``, ``github``, ``dbfs``...), whose host comes from the service or from
``storage_options`` rather than from the value, and local ones (``memory``, ``file``,
``git``, the caches and archives wrapping another link) are read as before.
URLs passed through to the platform (``url_mode="passthrough"``) are fetched by the
platform, from its network, and are not checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, Final
from urllib.parse import urlsplit

import httpcore
import httpx

from ocr_frames._errors import ConfigurationError
from ocr_frames._http.proxies import proxy_mounts, proxy_routes

__all__ = ["DEFAULT_URL_POLICY", "UrlPolicy", "UrlRefused", "download_client"]

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_METADATA: Final = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",
        "fe80::/10",
        "100.100.100.200/32",
        "fd00:ec2::254/128",
        "192.0.0.192/32",
    )
)
_PRIVATE: Final = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "0.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "::1/128",
        "::/128",
        "fc00::/7",
    )
)
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL: Final = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE: Final = ipaddress.ip_network("::/96")
_IPV4_TEXT: Final = re.compile(r"[0-9a-fA-FxX.]+")  # what inet_aton may read as IPv4
#: fsspec protocols whose URL names the host the backend connects to (or, for
#: ``reference`` and ``generic``, that fetch further URLs of any protocol).
NETWORK_PROTOCOLS: Final = frozenset(
    {
        "http",
        "https",
        "ftp",
        "sftp",
        "ssh",
        "smb",
        "hdfs",
        "arrow_hdfs",
        "webhdfs",
        "webdav",
        "dav",
        "root",
        "reference",
        "generic",
        "pyscript",
    }
)
_FSSPEC_LINK: Final = re.compile(r"(?<![\w+.\-])([A-Za-z][\w+.\-]*)://")
_HOST_FORBIDDEN: Final = frozenset("/@?#:\\ \t\r\n[]")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


class UrlRefused(Exception):
    """A download hop was refused by the policy (never an httpx or OS error, so that no
    handler of network failures mistakes it for one)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UrlPolicy:
    """What image downloads may connect to (see the module docstring).

    ``allow_hosts``: host names or IP addresses that are never checked;
    ``private``: False refuses loopback and private networks as well.
    """

    __slots__ = ("allow_hosts", "private")
    allow_hosts: frozenset[str]
    private: bool

    def __init__(self, allow_hosts: Iterable[str] | None = (), private: bool = True) -> None:
        if isinstance(allow_hosts, (str, bytes)):
            raise ConfigurationError(
                f"url_allow_hosts must be a list of host names, not the string {allow_hosts!r}"
            )
        object.__setattr__(self, "allow_hosts", frozenset(map(_host, allow_hosts or ())))
        object.__setattr__(self, "private", bool(private))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("UrlPolicy is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UrlPolicy):
            return NotImplemented
        return (self.allow_hosts, self.private) == (other.allow_hosts, other.private)

    def __hash__(self) -> int:
        return hash((self.allow_hosts, self.private))

    def __repr__(self) -> str:
        return f"UrlPolicy(allow_hosts={sorted(self.allow_hosts)!r}, private={self.private!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (UrlPolicy, (sorted(self.allow_hosts), self.private))

    def refusal(self, address: str) -> str | None:
        """Why connecting to ``address`` (an IP literal) is refused, or None."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # no IPv6 zone id
        judged = (ip, *_embedded(ip))
        if any(one in net for one in judged for net in _METADATA):
            return "the host is a link-local or cloud-metadata address"
        if not self.private and any(one in net for one in judged for net in _PRIVATE):
            return "the host is a loopback or private address (url_private=False)"
        return None

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` to connect to, every one of them checked; raises
        :class:`UrlRefused`, or OSError (``socket.gaierror``) when the name does not resolve."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        found = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if _host_key(host) not in self.allow_hosts:
            for address in found:
                reason = self.refusal(address)
                if reason is not None:
                    raise UrlRefused(reason)
        return found

    async def check(self, url: httpx.URL) -> None:
        """Resolve and check ``url``'s host without connecting (a foreign client's hops)."""
        port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
        with contextlib.suppress(OSError):  # unresolvable here: the request fails on its own
            await self.addresses(url.raw_host.decode("ascii"), port)

    def check_unresolved(self, host: str) -> None:
        """Check ``host`` as a proxy will receive it, without resolving it here: an address
        literal (in any spelling a resolver reads as one) or ``localhost`` is judged, any
        other name passes (the proxy resolves it); raises :class:`UrlRefused`."""
        key = _host_key(host)
        if key in self.allow_hosts:
            return
        address = _literal(key)
        if address is not None:
            reason = self.refusal(address)
            if reason is not None:
                raise UrlRefused(reason)
        elif not self.private and (key == "localhost" or key.endswith(".localhost")):
            raise UrlRefused("the host is a loopback or private address (url_private=False)")

    def fsspec_refusal(self, url: str) -> str | None:
        """Why the fsspec path ``url`` is refused, or None: a link of its ``::`` chain (or a
        URL nested in one) whose protocol reaches a host the value names
        (:data:`NETWORK_PROTOCOLS`) is refused unless that host is in ``allow_hosts``."""
        links = url.split("::")
        for link in links:
            found = [(m.group(1).lower(), m.start()) for m in _FSSPEC_LINK.finditer(link)]
            if not found and len(links) > 1 and link.strip().lower() in NETWORK_PROTOCOLS:
                found = [(link.strip().lower(), -1)]  # "http::..." names no host itself
            for protocol, start in found:
                if protocol in NETWORK_PROTOCOLS and not self._allowed_link(link, start):
                    return (
                        f"{protocol}:// paths reach a host the value names; only hosts in "
                        "url_allow_hosts may be read this way"
                    )
        return None

    def _allowed_link(self, link: str, start: int) -> bool:
        if start < 0 or not self.allow_hosts:
            return False
        try:
            host = urlsplit(link[start:]).hostname
        except ValueError:
            return False
        return host is not None and host != "" and _host_key(host) in self.allow_hosts


def _embedded(ip: _Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries (mapped, IPv4-compatible, 6to4, NAT64):
    it is judged as each of them too.  Local-use NAT64 (``64:ff9b:1::/48``) may use any
    RFC 6052 prefix length from /48: every layout is read."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return ()
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):  # not :: or ::1
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip in _NAT64_LOCAL:
        packed = ip.packed
        no_u = packed[:8] + packed[9:]  # RFC 6052: bits 64-71 (the u octet) are skipped
        layouts = (no_u[6:10], no_u[7:11], no_u[8:12], packed[12:16])  # /48 /56 /64 /96
        return tuple(ipaddress.IPv4Address(part) for part in layouts)
    return ()


def _literal(host: str) -> str | None:
    """``host`` as an IP address if a resolver would take it for one (``127.1``,
    ``2130706433``, ``0x7f.1`` included), else None."""
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    if _IPV4_TEXT.fullmatch(host):
        with contextlib.suppress(OSError):
            return socket.inet_ntoa(socket.inet_aton(host))
    return None


def _host_key(host: str) -> str:
    key = host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(key))  # one spelling per address
    except ValueError:
        return key


def _host(text: str) -> str:
    """An allowed host, normalised: lower-case ASCII (IDNA) name or canonical IP text."""
    if not isinstance(text, str):
        raise ConfigurationError(f"url_allow_hosts entries must be strings, not {text!r}")
    key = _host_key(text)
    if ":" in key:  # an IPv6 address (a port is refused below)
        with contextlib.suppress(ValueError):
            return str(ipaddress.ip_address(key))
    if not key or _HOST_FORBIDDEN & set(key):
        raise ConfigurationError(
            f"url_allow_hosts: {text!r} is not a host name (no scheme, port or path)"
        )
    try:
        return key.encode("idna").decode("ascii")
    except UnicodeError:
        raise ConfigurationError(f"url_allow_hosts: {text!r} is not a valid host name") from None


DEFAULT_URL_POLICY: Final = UrlPolicy()


# --- the pinning transport ------------------------------------------------------------


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy accepts, by address (no second lookup)."""

    def __init__(self, policy: UrlPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(self._policy.addresses(host, port), timeout)
        except asyncio.TimeoutError:
            raise httpcore.ConnectTimeout("name resolution timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from None
        failure: Exception = httpcore.ConnectError("no address to connect to")
        for address in addresses:  # in the resolver's order, as a plain connect would
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("downloads do not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


_ERRORS: Final[tuple[tuple[type[Exception], type[httpx.HTTPError]], ...]] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """httpcore's exceptions as httpx's (what httpx's own transport does).

    A copy of httpx's table, not a use of it: httpx has no public hook for a custom
    network backend, and its mapping (``map_httpcore_exceptions``) lives in a private
    module; tests/http/test_url_policy.py checks that the two tables agree.
    """
    try:
        yield
    except Exception as exc:
        for theirs, ours in _ERRORS:
            if isinstance(exc, theirs):
                raise ours(str(exc)) from exc
        raise


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        with _as_httpx_errors():
            await self._stream.aclose()


class _PinnedTransport(httpx.AsyncBaseTransport):
    """httpx's transport, on an httpcore pool with the pinning network backend."""

    def __init__(self, policy: UrlPolicy, limits: httpx.Limits) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            answer = await self._pool.handle_async_request(core)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer.stream),
            extensions=answer.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class _CheckedProxy(httpx.AsyncBaseTransport):
    """A proxy route: the target's address literals are checked here; the proxy resolves
    names and connects."""

    def __init__(self, policy: UrlPolicy, proxy: httpx.Proxy, limits: httpx.Limits) -> None:
        self._policy = policy
        self._inner = httpx.AsyncHTTPTransport(proxy=proxy, limits=limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._policy.check_unresolved(request.url.raw_host.decode("ascii"))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class PolicyClient(httpx.AsyncClient):
    """An httpx client whose direct connections are pinned by ``url_policy``."""

    url_policy: UrlPolicy


def download_client(
    policy: UrlPolicy = DEFAULT_URL_POLICY,
    *,
    proxy: str | None = None,
    timeout: float | httpx.Timeout = 5.0,
    limits: httpx.Limits | None = None,
) -> PolicyClient:
    """The client image downloads use: ``policy`` on every connection, proxies from the
    environment (or ``proxy``), no automatic redirects (they are followed hop by hop)."""
    limits = limits or httpx.Limits()
    mounts = proxy_mounts(proxy_routes(proxy), lambda p: _CheckedProxy(policy, p, limits))
    client = PolicyClient(
        transport=_PinnedTransport(policy, limits),
        mounts=mounts,
        timeout=timeout,
        follow_redirects=False,
    )
    client.url_policy = policy
    return client


def pins(client: httpx.AsyncClient, policy: UrlPolicy) -> bool:
    """True when ``client`` enforces ``policy`` at connection time itself."""
    return isinstance(client, PolicyClient) and client.url_policy == policy
