"""`pixels2posts models`: train, export and evaluate the models. Each family's commands live in their own module."""

from __future__ import annotations

import click

from pixels2posts.cli.lazy import LazyGroup

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


@click.group(cls=LazyGroup, lazy=MODEL_COMMANDS)
def models() -> None:
    """Train, export, list and evaluate models."""
