"""Outbound fetches that run data asks for (Trigger.dev's `outputPresignedUrl`) are guarded.

Run data is untrusted: a URL in it such as http://169.254.169.254/latest/meta-data/ (a cloud
metadata service) or http://127.0.0.1:8080/... would make the relay fetch from inside the
network it runs in (SSRF). So such a URL is fetched only over http(s), from a host whose every
resolved address is public: not loopback, link-local (fe80::/10, 169.254.0.0/16), private
(10/8, 172.16/12, 192.168/16, fc00::/7), shared (100.64/10), unspecified, multicast or
reserved; an IPv4-mapped IPv6 address counts as its IPv4 address, and a host written as a
number (2130706433, 0177.0.0.1, 127.1) as the address resolvers read in it. rules.yaml's
`network: {allow: [...]}` lets named hosts or networks through. Redirects are followed here,
one hop at a time, each hop checked the same way.

DNS rebinding: the host is resolved once and the request goes to the address that was checked
(the URL's host replaced by it, while the Host header and the TLS server name stay the
original host, so virtual hosts, presigned signatures and certificates still work). Re-checking
at connect time instead would need a custom network backend inside httpx's connection pool;
pinning needs nothing but the request. A host allowed by name is not pinned: the operator
vouched for whatever it resolves to.

The API clients to a platform's configured base_url are not guarded: the operator chose them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urljoin, urlsplit

import httpx2

from relay.errors import FetchRefused, SourceError

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
MAX_REDIRECTS = 5

_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")  # what inet_aton may read as an IPv4 address
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")


@dataclass(frozen=True)
class NetworkPolicy:
    """Where run-data URLs may point besides public addresses (rules.yaml `network.allow`)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[object]) -> NetworkPolicy:
        """Networks ("10.0.0.0/8", "127.0.0.1") and host names; ValueError names a bad entry."""
        hosts, networks = set(), []
        for entry in entries:
            if not isinstance(entry, str):
                raise ValueError(f"expected a network or a host name, got {entry!r}")
            try:
                networks.append(ipaddress.ip_network(entry))
            except ValueError as exc:
                name = entry.lower().rstrip(".")
                if "/" in entry or not _HOST_NAME.fullmatch(name) or name.rsplit(".", 1)[-1].isdigit():
                    raise ValueError(
                        f"{entry!r} is neither a network (10.0.0.0/8, 127.0.0.1) nor a host name ({exc})"
                    ) from None
                hosts.add(name)
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


PUBLIC_ONLY = NetworkPolicy()  # the default: nothing allowed besides public addresses


def literal_address(host: str) -> Address | None:
    """The address a host names by itself, in any spelling a resolver reads as one."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _NUMERIC_HOST.fullmatch(host):
        return None
    try:  # 2130706433, 0177.0.0.1, 0x7f.1 and 127.1 all mean 127.0.0.1 to inet_aton
        return IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


_NOT_PUBLIC: tuple[tuple[str, Callable[[Address], bool]], ...] = (
    ("a loopback address", lambda a: a.is_loopback),
    ("a link-local address (cloud metadata services answer there)", lambda a: a.is_link_local),
    ("the unspecified address", lambda a: a.is_unspecified),
    ("a multicast address", lambda a: a.is_multicast),
    ("a private address", lambda a: a.is_private),
    ("a reserved address", lambda a: a.is_reserved),
    ("not a public address", lambda a: not a.is_global),
)


def why_not_public(address: Address) -> str | None:
    """What kind of non-public address this is, or None for a public one."""
    address = _unmapped(address)
    return next((what for what, test in _NOT_PUBLIC if test(address)), None)


def _unmapped(address: Address) -> Address:
    """::ffff:127.0.0.1 reaches 127.0.0.1: it is checked (and allowed) as that."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def decide(url: str, policy: NetworkPolicy, resolved: Sequence[Address] = ()) -> tuple[Address, ...] | None:
    """The addresses `url` may be fetched from (its host resolved to `resolved`), in order;
    None when its host is allowed by name. Raises FetchRefused saying why not."""
    host = _host(url)
    if policy.allows_host(host):
        return None
    literal = literal_address(host)
    addresses = tuple(dict.fromkeys(_unmapped(a) for a in ([literal] if literal is not None else resolved)))
    if not addresses:
        raise FetchRefused(f"{host} resolves to no address")
    for address in addresses:  # every one: a rebinding answer may mix public and private
        what = None if policy.allows(address) else why_not_public(address)
        if what is not None:
            raise FetchRefused(f"{_named(host, address)} {what}; rules.yaml network.allow can allow it")
    return addresses


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed [ of an IPv6 host
        raise FetchRefused(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise FetchRefused(f"only http and https URLs are fetched, not {parts.scheme or 'this'}")
    if not parts.hostname:
        raise FetchRefused("the URL names no host")
    return parts.hostname


def _named(host: str, address: Address) -> str:
    """`localhost resolves to 127.0.0.1, which is`, `2130706433 (127.0.0.1) is`, `::1 is`."""
    if literal_address(host) is None:
        return f"{host} resolves to {address}, which is"
    try:
        ipaddress.ip_address(host)
        return f"{host} is"
    except ValueError:
        return f"{host} ({address}) is"


def next_url(url: str, response: httpx2.Response) -> str | None:
    """Where a redirect answer points (relative locations resolved), else None."""
    location = response.headers.get("location")
    return urljoin(url, location) if response.is_redirect and location else None


async def fetch(
    http: httpx2.AsyncClient, url: str, policy: NetworkPolicy, *, timeout: float
) -> httpx2.Response:
    """GET `url` without credentials, every hop checked and pinned; the caller reads the
    streamed answer and closes it. Raises FetchRefused, SourceError when a host does not
    resolve, or httpx's errors."""
    for _ in range(MAX_REDIRECTS + 1):
        addresses = decide(url, policy, await _resolve(url, policy))
        response = await _send(http, url, addresses, timeout)
        following = next_url(url, response)
        if following is None:
            return response
        await response.aclose()
        url = following
    raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")


async def _resolve(url: str, policy: NetworkPolicy) -> list[Address]:
    host = _host(url)
    if policy.allows_host(host) or literal_address(host) is not None:
        return []  # `decide` needs no DNS answer for these
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise SourceError(f"cannot resolve {host}: {exc}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]


async def _send(
    http: httpx2.AsyncClient, url: str, addresses: tuple[Address, ...] | None, timeout: float
) -> httpx2.Response:
    """To the first checked address that takes the connection, as httpx would try a name's
    addresses in turn (a dual-stack host may be unreachable over one of them)."""
    *others, last = addresses or (None,)
    for address in others:
        with contextlib.suppress(httpx2.ConnectError):
            return await http.send(
                _request(http, url, address, timeout), auth=None, follow_redirects=False, stream=True
            )
    return await http.send(_request(http, url, last, timeout), auth=None, follow_redirects=False, stream=True)


def _request(http: httpx2.AsyncClient, url: str, address: Address | None, timeout: float) -> httpx2.Request:
    original = httpx2.URL(url)
    if address is None:
        request = http.build_request("GET", original, timeout=timeout)
    else:
        pinned = original.copy_with(host=str(address), username=None, password=None)
        extensions = {"sni_hostname": original.host} if original.scheme == "https" else {}
        host = original.netloc.decode("ascii")
        request = http.build_request(
            "GET", pinned, headers={"host": host}, timeout=timeout, extensions=extensions
        )
    request.headers.pop("authorization", None)  # a client-wide default must not leave with it
    return request
