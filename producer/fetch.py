"""Fetching image URLs safely: http(s) only, every resolved address checked by `shared.netguard` (no loopback,
private, link-local, metadata, NAT64/6to4/Teredo or otherwise non-public address), the connection pinned to the
checked address, no proxy from the environment, each redirect checked again, and limits on size, total time and
content type."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from shared.errors import FetchError, ImageTooLargeError
from shared.netguard import check_address, guarded_client, pinned_request, resolve_checked
from shared.settings import Settings, get_settings

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
__all__ = ["FetchedImage", "check_address", "fetch_image", "resolve_checked"]


@dataclass(frozen=True)
class FetchedImage:
    data: bytes
    content_type: str
    final_url: str


def fetch_image(url: str, settings: Settings | None = None) -> FetchedImage:
    """Download an image from `url` within the limits in settings; raise FetchError subclasses otherwise."""
    settings = settings or get_settings()
    deadline = time.monotonic() + settings.fetch_timeout_s
    with guarded_client(settings.fetch_timeout_s) as client:
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
    request = pinned_request(
        client, "GET", url, allow_private=settings.allow_private_urls,
        headers={"Accept": ", ".join(sorted(IMAGE_TYPES))}, extensions={"timeout": _timeouts(deadline)},
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
