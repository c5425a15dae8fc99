#!/opt/venv/bin/python
"""Container health check: `p2p-healthcheck [ROLE]` exits 0 when this container's process answers over HTTP.

The role is the argument, else the one `p2p-entrypoint` recorded. Ports come from `shared.settings`, as in the
entrypoint. Used by Docker's HEALTHCHECK (and so compose); Kubernetes probes the same URLs with httpGet.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROLE_FILE = Path(os.environ.get("PIXELS2POSTS_ROLE_FILE", "/tmp/p2p-role"))  # per-container /tmp
API_HEALTH_PATH = "/healthz"
TIMEOUT_S = 4.0


def health_url(role: str) -> str | None:
    """The URL that answers 2xx when a process of `role` is healthy; None for roles that have no server."""
    from shared.settings import Settings

    settings = Settings()
    if role == "api":
        return f"http://127.0.0.1:{settings.api_port}{API_HEALTH_PATH}"
    if role in ("vision", "language"):
        return f"http://127.0.0.1:{settings.metrics_port}/metrics"
    if role == "flower":
        return f"http://127.0.0.1:{settings.flower_port}/healthcheck"
    if role == "llm":
        port = urlsplit(settings.llm_base_url).port or 8081
        return f"http://127.0.0.1:{port}/v1/models"
    return None


def probe(url: str, timeout_s: float = TIMEOUT_S) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # a fixed loopback URL
            return 200 <= response.status < 300, f"{url} -> {response.status}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{url} -> {exc}"


def main(argv: list[str]) -> int:
    role = argv[0] if argv else (ROLE_FILE.read_text().strip() if ROLE_FILE.is_file() else "")
    url = health_url(role)
    if url is None:
        print(f"p2p-healthcheck: no health endpoint for role {role!r}", file=sys.stderr)
        return 0 if role in ("migrate", "command") else 1
    healthy, detail = probe(url)
    print(detail)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
