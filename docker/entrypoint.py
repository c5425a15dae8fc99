#!/opt/venv/bin/python
"""Container entrypoint: `p2p-entrypoint ROLE [ARGS...]` runs one pixels2posts process in the foreground.

Roles: api, vision, language, flower, llm, migrate. Anything else is executed as given, so
`docker run IMAGE pixels2posts doctor` works. Every port and queue comes from `shared.settings` (P2P_* variables),
the one source of truth the manifests are tested against. The role is written to ROLE_FILE for `p2p-healthcheck`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from shared.settings import Settings

ROLE_FILE = Path(os.environ.get("PIXELS2POSTS_ROLE_FILE", "/tmp/p2p-role"))  # per-container /tmp
DEFAULT_ROLE = "api"
LLM_DEFAULT_PORT = 8081


class EntrypointError(RuntimeError):
    pass


def _settings() -> Settings:
    from shared.settings import Settings

    return Settings()


def api_command(extra: Sequence[str]) -> list[str]:
    settings = _settings()
    return ["pixels2posts", "api", "--host", settings.api_host, "--port", str(settings.api_port), *extra]


def vision_command(extra: Sequence[str]) -> list[str]:
    return ["pixels2posts", "worker", "vision", *extra]


def language_command(extra: Sequence[str]) -> list[str]:
    return ["pixels2posts", "worker", "language", *extra]


def flower_command(extra: Sequence[str]) -> list[str]:
    settings = _settings()
    if ":" not in settings.flower_basic_auth:
        raise EntrypointError("P2P_FLOWER_BASIC_AUTH must be set to user:password; Flower never runs without auth")
    return [
        "celery",
        "-A",
        "workers.celery_app",
        "flower",
        "--address=0.0.0.0",
        f"--port={settings.flower_port}",
        f"--basic-auth={settings.flower_basic_auth}",
        "--purge_offline_workers=600",
        *extra,
    ]


def llm_port(base_url: str) -> int:
    """The port the local LLM server listens on: the one in P2P_LLM_BASE_URL, so clients and server agree."""
    return urlsplit(base_url).port or LLM_DEFAULT_PORT


def llm_command(extra: Sequence[str]) -> list[str]:
    from workers.language.local_llm import local_llm_command

    settings = _settings()
    command = [str(part) for part in local_llm_command(llm_port(settings.llm_base_url), settings)]
    if "--host" in command:
        command[command.index("--host") + 1] = "0.0.0.0"
    else:
        command += ["--host", "0.0.0.0"]
    return [*command, *extra]


def migrate_command(extra: Sequence[str]) -> list[str]:
    script = (
        "from shared.settings import get_settings; from shared.store import migrate_when_reachable; "
        "settings = get_settings(); migrate_when_reachable(settings.database_url, settings.database_wait_s)"
    )
    return [sys.executable, "-c", script, *extra]


ROLES: dict[str, Callable[[Sequence[str]], list[str]]] = {
    "api": api_command,
    "vision": vision_command,
    "language": language_command,
    "flower": flower_command,
    "llm": llm_command,
    "migrate": migrate_command,
}


def command_for(argv: Sequence[str]) -> tuple[str, list[str]]:
    """(role, argv to exec) for the entrypoint's arguments; an unknown first word runs as a plain command."""
    if not argv:
        argv = [DEFAULT_ROLE]
    role, extra = argv[0], list(argv[1:])
    builder = ROLES.get(role)
    if builder is None:
        return "command", list(argv)
    return role, builder(extra)


def main(argv: Sequence[str]) -> None:
    try:
        role, command = command_for(argv)
    except EntrypointError as exc:
        print(f"p2p-entrypoint: {exc}", file=sys.stderr)
        sys.exit(2)
    with contextlib.suppress(OSError):  # a read-only /tmp only costs the health check its role
        ROLE_FILE.write_text(role)
    sys.stdout.flush()
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
