"""SSRF-safe URL fetching: refused addresses, redirects re-checked, size/type/time limits (real HTTP)."""

from __future__ import annotations

import ipaddress
import time

import pytest

from producer.fetch import check_address, fetch_image
from shared.errors import FetchError, ForbiddenURLError, ImageTooLargeError
from shared.settings import Settings
from tests.support.helpers import Reply, http_server, jpeg_bytes

JPEG = jpeg_bytes(1)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.jpg",
        "http://localhost/a.jpg",
        "http://[::1]/a.jpg",
        "http://10.1.2.3/a.jpg",
        "http://192.168.0.10/a.jpg",
        "http://172.16.5.4/a.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/a.jpg",
        "http://0.0.0.0/a.jpg",
        "http://2130706433/a.jpg",  # 127.0.0.1 as a decimal number
        "http://[fe80::1]/a.jpg",
        "file:///etc/passwd",
        "ftp://example.com/a.jpg",
        "http://user:pw@example.com/a.jpg",
    ],
)
def test_given_a_non_public_url_when_fetched_then_it_is_refused_before_connecting(url: str) -> None:
    with pytest.raises(ForbiddenURLError):
        fetch_image(url, Settings(allow_private_urls=False))


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "fe80::1", "224.0.0.1"])
def test_given_private_urls_allowed_for_tests_then_metadata_and_link_local_stay_refused(address: str) -> None:
    with pytest.raises(ForbiddenURLError):
        check_address(ipaddress.ip_address(address), allow_private=True)
    check_address(ipaddress.ip_address("127.0.0.1"), allow_private=True)
    check_address(ipaddress.ip_address("93.184.216.34"), allow_private=False)


def test_given_a_redirect_to_a_metadata_address_when_fetched_then_the_redirect_is_refused() -> None:
    routes = {"/go": lambda _b, _h: Reply(302, headers={"Location": "http://169.254.169.254/latest/"})}
    with http_server(routes) as (base, requests), pytest.raises(ForbiddenURLError):
        fetch_image(f"{base}/go", Settings(allow_private_urls=True))
    assert [r.path for r in requests] == ["/go"]


def test_given_redirects_when_within_the_limit_then_followed_else_refused() -> None:
    routes = {
        "/a": lambda _b, _h: Reply(302, headers={"Location": "/b"}),
        "/b": lambda _b, _h: Reply(301, headers={"Location": "/img.jpg"}),
        "/img.jpg": lambda _b, _h: Reply(200, JPEG, {"Content-Type": "image/jpeg"}),
    }
    with http_server(routes) as (base, _):
        fetched = fetch_image(f"{base}/a", Settings(allow_private_urls=True, fetch_max_redirects=2))
        assert fetched.data == JPEG
        assert fetched.final_url.endswith("/img.jpg")
        with pytest.raises(FetchError, match="redirects"):
            fetch_image(f"{base}/a", Settings(allow_private_urls=True, fetch_max_redirects=1))


def test_given_wrong_type_oversize_or_error_status_when_fetched_then_clear_errors() -> None:
    big = b"\xff" * 5000
    routes = {
        "/page": lambda _b, _h: Reply(200, b"<html>", {"Content-Type": "text/html"}),
        "/big": lambda _b, _h: Reply(200, big, {"Content-Type": "image/jpeg"}),
        "/missing": lambda _b, _h: Reply(404, b"no"),
    }
    settings = Settings(allow_private_urls=True, max_image_bytes=4096)
    with http_server(routes) as (base, _):
        with pytest.raises(FetchError, match="text/html"):
            fetch_image(f"{base}/page", settings)
        with pytest.raises(ImageTooLargeError):
            fetch_image(f"{base}/big", settings)
        with pytest.raises(FetchError, match="404"):
            fetch_image(f"{base}/missing", settings)


def test_given_a_slow_server_when_fetched_then_the_time_limit_holds() -> None:
    def slow(_b: bytes, _h: dict[str, str]) -> Reply:
        time.sleep(2)
        return Reply(200, JPEG, {"Content-Type": "image/jpeg"})

    with http_server({"/slow": slow}) as (base, _):
        started = time.monotonic()
        with pytest.raises(FetchError, match="timed out"):
            fetch_image(f"{base}/slow", Settings(allow_private_urls=True, fetch_timeout_s=0.5))
        assert time.monotonic() - started < 1.5
