"""The `pixels2posts` command. Sub-commands live in their own modules and load lazily (`pixels2posts.cli.lazy`)."""

from __future__ import annotations

import logging
import sys

import click

from pixels2posts.cli.lazy import LazyGroup
from shared.errors import P2PError

# command name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "evidence": "pixels2posts.cli.evidence:evidence",
    "caption": "pixels2posts.cli.caption:caption",
    "doctor": "pixels2posts.cli.doctor:doctor",
    "services": "pixels2posts.cli.services:services",
    "models": "pixels2posts.cli.models:models",
    "index": "pixels2posts.cli.index:index",
    "worker": "pixels2posts.cli.stack:worker",
    "up": "pixels2posts.cli.stack:up",
    "down": "pixels2posts.cli.stack:down",
    "submit": "pixels2posts.cli.submit:submit",
    "api": "pixels2posts.cli.stack:api",
    "eval": "pixels2posts.cli.evaluate:evaluate",
}


@click.group(cls=LazyGroup, lazy=COMMANDS)
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
@click.version_option(package_name="pixels2posts")
def cli(verbose: bool) -> None:
    """Turn fashion photos into grounded captions and hashtags."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main() -> None:
    try:
        cli(standalone_mode=True)
    except P2PError as exc:
        click.echo(f"error [{exc.code}]: {exc}", err=True)
        sys.exit(2)
