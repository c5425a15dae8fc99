"""The `pixels2posts` command. Sub-commands live in their own modules and load lazily, so `--help` stays fast
and a command's heavy imports (onnxruntime, faiss, celery) happen only when it runs."""

from __future__ import annotations

import importlib
import logging
import sys

import click

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


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return _not_available(cmd_name)
        command: click.Command = getattr(module, attribute)
        return command


def _not_available(name: str) -> click.Command:
    @click.command(name=name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def placeholder() -> None:
        raise click.ClickException(f"`pixels2posts {name}` is not available yet in this build")

    placeholder.help = "(not available yet)"
    return placeholder


@click.group(cls=LazyGroup)
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
