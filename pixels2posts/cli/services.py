"""`pixels2posts services`: start and stop the private Redis used by the demo and the tests."""

from __future__ import annotations

from pathlib import Path

import click

from pixels2posts.services import start_redis, stop_redis
from shared.settings import get_settings


def _state_dir() -> Path:
    return get_settings().data_dir / "run"


@click.group()
def services() -> None:
    """Local services (a private Redis) for the demo and the tests."""


@services.command("redis-up")
@click.option("--port", type=int, default=6380, show_default=True)
@click.option("--persist/--no-persist", default=True, show_default=True, help="AOF persistence on.")
def redis_up(port: int, persist: bool) -> None:
    """Start a private Redis on 127.0.0.1:PORT (reused when already running) and print its URL."""
    server = start_redis(port, _state_dir(), persist=persist)
    click.echo(server.url)


@services.command("redis-down")
@click.option("--port", type=int, default=6380, show_default=True)
def redis_down(port: int) -> None:
    """Stop the private Redis this project started on PORT."""
    click.echo("stopped" if stop_redis(port, _state_dir()) else "not running")
