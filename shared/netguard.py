"""Outbound-request guard (SSRF): which addresses the system may connect to on a user's behalf, and requests
pinned to the address that was checked.

Used for image URLs (the API) and for completion webhooks (the workers): both are URLs a client chose. A URL is
refused unless every address its host resolves to is globally routable unicast. Ranges that embed or tunnel to
another address (NAT64, 6to4, Teredo, IPv4-mapped/compatible) are refused outright: a gateway on the path would turn
them into a private IPv4 destination. The request then goes to the checked address itself (no second DNS lookup a
rebinding attacker could answer differently), with the Host header and TLS server name of the original host, and
never through a proxy from the environment.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from shared.errors import FetchError, ForbiddenURLError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# cloud metadata services: refused even when private addresses are allowed (tests)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
# refused whatever `is_global` says (Python versions disagree on some of these, and all of them can reach, or be
# translated to, an address we must not touch)
BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
        "::/96",  # IPv4-compatible (deprecated)
        "::ffff:0:0/96",  # IPv4-mapped (checked through the embedded IPv4 address first)
        "64:ff9b::/96",  # NAT64 well-known prefix
        "64:ff9b:1::/48",  # NAT64 local-use prefix
        "100::/64",  # discard-only
        "2001::/32",  # Teredo
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
# what tests may reach when private addresses are allowed: loopback and RFC 1918 / ULA only
_TEST_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128",
                                      "fc00::/7")
)


def check_address(address: Address, *, allow_private: bool) -> None:
    """Raise ForbiddenURLError unless `address` may be connected to."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped
        if embedded is not None:
            check_address(embedded, allow_private=allow_private)
            return
    if address in METADATA_ADDRESSES or address.is_link_local:
        raise ForbiddenURLError(f"address {address} is link-local or a metadata service")
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        raise ForbiddenURLError(f"address {address} is not a unicast address")
    if allow_private and any(address in net for net in _TEST_PRIVATE if net.version == address.version):
        return
    if any(address in net for net in BLOCKED_NETWORKS if net.version == address.version):
        raise ForbiddenURLError(f"address {address} is in a non-public or tunnelling range")
    if not address.is_global or address.is_private or address.is_loopback:
        raise ForbiddenURLError(f"address {address} is loopback, private or otherwise not public")


def resolve_checked(host: str, port: int, *, allow_private: bool) -> Address:
    """Resolve `host` and check every address it has; return the first (the one to connect to)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host!r}: {exc}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise FetchError(f"{host!r} has no address")
    for address in addresses:
        check_address(address, allow_private=allow_private)
    return addresses[0]


def checked_target(url: str, *, allow_private: bool) -> tuple[str, str, str]:
    """Check `url` and resolve it: (pinned URL on the checked address, Host header, TLS server name)."""
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # a malformed IPv6 literal or port
        raise ForbiddenURLError(f"URL {url[:200]!r} is malformed: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise ForbiddenURLError(f"only http and https URLs are allowed, not {parts.scheme!r}")
    if not hostname:
        raise ForbiddenURLError(f"URL {url[:200]!r} has no host")
    if parts.username or parts.password:
        raise ForbiddenURLError("URLs with credentials are not allowed")
    address = resolve_checked(hostname, port, allow_private=allow_private)
    literal = f"[{address}]" if address.version == 6 else str(address)
    pinned = parts._replace(netloc=f"{literal}:{port}").geturl()
    host_header = hostname if parts.port is None else f"{hostname}:{parts.port}"
    return pinned, host_header, hostname


def pinned_request(
    client: httpx.Client, method: str, url: str, *, allow_private: bool, headers: dict[str, str] | None = None,
    content: bytes | None = None, extensions: dict[str, object] | None = None,
) -> httpx.Request:
    """A request for `url` that connects to the checked address (send it with a `trust_env=False` client)."""
    pinned, host_header, server_name = checked_target(url, allow_private=allow_private)
    return client.build_request(
        method, pinned, headers={**(headers or {}), "Host": host_header}, content=content,
        extensions={"sni_hostname": server_name, **(extensions or {})},
    )


def guarded_client(timeout_s: float) -> httpx.Client:
    """An HTTP client for user-chosen URLs: no proxies from the environment, no automatic redirects."""
    return httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False)
