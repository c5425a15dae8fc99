"""`pixels2posts models list`: the ONNX models under the models folder, with size, version and model card."""

from __future__ import annotations

import json
from pathlib import Path

import click

from shared.settings import get_settings


def describe_model(path: Path) -> dict[str, object]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta()
    card = next((p for p in (path.parent / "MODEL_CARD.md", path.parent / "README.md") if p.is_file()), None)
    return {
        "path": str(path),
        "size_mb": round(path.stat().st_size / 1e6, 2),
        "version": meta.custom_metadata_map.get("version", meta.version),
        "inputs": {i.name: i.shape for i in session.get_inputs()},
        "outputs": {o.name: o.shape for o in session.get_outputs()},
        "card": str(card) if card else None,
    }


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per model.")
def list_models(as_json: bool) -> None:
    """List the bundled ONNX models."""
    root = get_settings().models_dir
    paths = sorted(root.rglob("*.onnx"))
    if not paths:
        raise click.ClickException(f"no ONNX models under {root}")
    for path in paths:
        info = describe_model(path)
        if as_json:
            click.echo(json.dumps(info))
        else:
            name = path.relative_to(root)
            click.echo(f"{name}  {info['size_mb']} MB  version={info['version']}  inputs={info['inputs']}")
