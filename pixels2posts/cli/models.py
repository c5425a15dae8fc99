"""`pixels2posts models`: train, export and evaluate the models. Each family's commands live in their own module."""

from __future__ import annotations

import importlib

import click

# sub-command name -> "module:attribute", loaded only when asked for
MODEL_COMMANDS: dict[str, str] = {
    "train-detector": "pixels2posts.cli.models_detector:train_detector",
    "export-detector": "pixels2posts.cli.models_detector:export_detector",
    "eval-detector": "pixels2posts.cli.models_detector:eval_detector",
    "train-clip": "pixels2posts.cli.models_clip:train_clip",
    "export-clip": "pixels2posts.cli.models_clip:export_clip",
    "eval-attributes": "pixels2posts.cli.models_clip:eval_attributes",
    "list": "pixels2posts.cli.models_list:list_models",
}


class _LazyModels(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(MODEL_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = MODEL_COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            from pixels2posts.cli import _not_available

            return _not_available(f"models {cmd_name}")
        command: click.Command = getattr(module, attribute)
        return command


@click.group(cls=_LazyModels)
def models() -> None:
    """Train, export, list and evaluate models."""
