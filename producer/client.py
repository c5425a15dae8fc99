"""The Python SDK of the producer API.

    from producer import Client
    with Client("http://127.0.0.1:8000", api_key="p2p_...") as client:
        job = client.submit_file("photo.jpg", sku="SKU-1")
        print(client.wait(job["job_id"])["result"]["caption"])
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from shared.errors import P2PError

FINAL = frozenset({"succeeded", "failed"})


class ApiError(P2PError):
    def __init__(self, status: int, code: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"HTTP {status} [{code}]: {message}", code=code)
        self.status = status
        self.retry_after_s = retry_after_s


class Client:
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        *,
        timeout_s: float = 60.0,
        retries_on_429: int = 3,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)
        self.retries_on_429 = retries_on_429

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def submit_url(self, image_url: str, **fields: Any) -> dict[str, Any]:
        """Queue a photo by URL; fields: sku, title, options (dict), callback_url. Returns {job_id, ...}."""
        return self._request("POST", "/v1/jobs", json={"image_url": image_url, **_present(fields)})

    def submit_file(self, image: str | Path | bytes, **fields: Any) -> dict[str, Any]:
        """Upload a photo (a path or its bytes); same fields as submit_url."""
        data = image if isinstance(image, bytes) else Path(image).read_bytes()
        name = "image" if isinstance(image, bytes) else Path(image).name
        form = {k: json.dumps(v) if k == "options" else str(v) for k, v in _present(fields).items()}
        return self._request("POST", "/v1/jobs", files={"image": (name, data)}, data=form)

    def submit_batch(self, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Queue up to 100 photos by URL: each item is {image_url, sku?, ...}; one answer per item."""
        items: list[dict[str, Any]] = self._request("POST", "/v1/jobs:batch", json={"jobs": jobs})["jobs"]
        return items

    def get(self, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/jobs/{job_id}")

    def wait(self, job_id: str, *, timeout_s: float = 600.0, poll_s: float = 0.5) -> dict[str, Any]:
        """Poll until the job succeeded or failed; TimeoutError after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.get(job_id)
            if job["status"] in FINAL:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout_s}s")
            time.sleep(poll_s)

    def captions(self, sku: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/products/{sku}/captions")

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        for attempt in range(self.retries_on_429 + 1):
            response = self._http.request(method, path, **kwargs)
            if response.status_code == 429 and attempt < self.retries_on_429:
                time.sleep(float(response.headers.get("retry-after", "1")))
                continue
            break
        if response.is_success:
            body: dict[str, Any] = response.json()
            return body
        raise _api_error(response)


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _api_error(response: httpx.Response) -> ApiError:
    retry_after = response.headers.get("retry-after")
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code, message = str(error.get("code", "error")), str(error.get("message", ""))
    else:
        code, message = f"http_{response.status_code}", str(body.get("detail", response.text)) if body else ""
    return ApiError(response.status_code, code, message, float(retry_after) if retry_after else None)
