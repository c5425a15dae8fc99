"""Fetching image URLs safely: http(s) only, every resolved address checked (no loopback, private, link-local,
metadata or otherwise non-public address), the connection pinned to the checked address, each redirect
checked again, and limits on size, total time and content type."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from shared.errors import FetchError, ForbiddenURLError, ImageTooLargeError
from shared.settings import Settings, get_settings

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# cloud metadata services: refused even when private addresses are allowed (tests)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)


@dataclass(frozen=True)
class FetchedImage:
    data: bytes
    content_type: str
    final_url: str


def check_address(address: Address, *, allow_private: bool) -> None:
    """Raise ForbiddenURLError unless `address` may be fetched from."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES or address.is_link_local:
        raise ForbiddenURLError(f"address {address} is link-local or a metadata service")
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        raise ForbiddenURLError(f"address {address} is not a unicast address")
    if allow_private and (address.is_private or address.is_loopback):
        return
    if not address.is_global:
        raise ForbiddenURLError(f"address {address} is loopback, private or otherwise not public")


def resolve_checked(host: str, port: int, *, allow_private: bool) -> Address:
    """Resolve `host` and check every address it has; return the first (the one we connect to)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host!r}: {exc.strerror}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise FetchError(f"{host!r} has no address")
    for address in addresses:
        check_address(address, allow_private=allow_private)
    return addresses[0]


def fetch_image(url: str, settings: Settings | None = None) -> FetchedImage:
    """Download an image from `url` within the limits in settings; raise FetchError subclasses otherwise."""
    settings = settings or get_settings()
    deadline = time.monotonic() + settings.fetch_timeout_s
    with httpx.Client(timeout=settings.fetch_timeout_s, follow_redirects=False, trust_env=False) as client:
        for _hop in range(settings.fetch_max_redirects + 1):
            response = _request_pinned(client, url, settings, deadline)
            if response.is_redirect:
                location = response.headers.get("location")
                response.close()
                if not location:
                    raise FetchError(f"redirect from {url} without a Location")
                url = urljoin(url, location)
                continue
            return _read_image(response, url, settings, deadline)
    raise FetchError(f"more than {settings.fetch_max_redirects} redirects")


def _request_pinned(client: httpx.Client, url: str, settings: Settings, deadline: float) -> httpx.Response:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ForbiddenURLError(f"only http and https image URLs are fetched, not {parts.scheme!r}")
    if not parts.hostname:
        raise ForbiddenURLError(f"URL {url!r} has no host")
    if parts.username or parts.password:
        raise ForbiddenURLError("URLs with credentials are not fetched")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve_checked(parts.hostname, port, allow_private=settings.allow_private_urls)
    # connect to the address we checked (no second DNS lookup to rebind), keep Host and TLS name
    literal = f"[{address}]" if address.version == 6 else str(address)
    pinned = parts._replace(netloc=f"{literal}:{port}").geturl()
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    request = client.build_request(
        "GET", pinned, headers={"Host": host_header, "Accept": ", ".join(sorted(IMAGE_TYPES))},
        extensions={"sni_hostname": parts.hostname, "timeout": _timeouts(deadline)},
    )
    try:
        return client.send(request, stream=True)
    except httpx.TimeoutException as exc:
        raise FetchError(f"fetching {url} timed out") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"fetching {url} failed: {exc}") from exc


def _timeouts(deadline: float) -> dict[str, float]:
    left = max(0.01, deadline - time.monotonic())
    return {"connect": left, "read": left, "write": left, "pool": left}


def _read_image(response: httpx.Response, url: str, settings: Settings, deadline: float) -> FetchedImage:
    try:
        return _read_body(response, url, settings, deadline)
    finally:
        response.close()


def _read_body(response: httpx.Response, url: str, settings: Settings, deadline: float) -> FetchedImage:
    if response.status_code != 200:
        raise FetchError(f"fetching {url} answered HTTP {response.status_code}")
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in IMAGE_TYPES:
        raise FetchError(f"{url} is {content_type or 'untyped'}, not a JPEG, PNG or WebP image")
    limit = settings.max_image_bytes
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ImageTooLargeError(f"{url} is {declared} bytes, over the {limit} byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise ImageTooLargeError(f"{url} is over the {limit} byte limit")
            if time.monotonic() > deadline:
                raise FetchError(f"fetching {url} took over {settings.fetch_timeout_s}s")
            chunks.append(chunk)
    except httpx.TimeoutException as exc:
        raise FetchError(f"fetching {url} timed out") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"fetching {url} failed: {exc}") from exc
    return FetchedImage(b"".join(chunks), content_type, url)
