"""The rooms and their doors, read from the source with `ast`: lower rooms never import higher ones.

shared  <-  workers, producer (never each other)  <-  pixels2posts (the CLI, evaluation, catalogue building)
<-  training. Runtime packages (what a worker or the API runs) import no evaluation, training or building code."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OFFLINE = ("pixels2posts", "training", "bench", "tests")
# package -> top-level modules of ours it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "shared": ("workers", "producer", *OFFLINE),
    "workers": ("producer", *OFFLINE),
    "producer": ("workers", *OFFLINE),
    "pixels2posts/evaluation": ("pixels2posts.cli", "training", "bench", "tests"),
    "pixels2posts/catalog": ("pixels2posts.cli", "pixels2posts.evaluation", "training", "bench", "tests"),
    "pixels2posts/cli": ("bench", "tests"),
}


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, also those inside functions."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        for line, module in imported_modules(path):
            if any(module == name or module.startswith(name + ".") for name in forbidden):
                found.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_given_a_room_then_it_imports_no_higher_room(package: str) -> None:
    assert (REPO / package).is_dir()
    assert violations(package, FORBIDDEN[package]) == []


def test_given_a_forbidden_import_then_the_check_names_file_and_line(tmp_path: Path) -> None:
    module = tmp_path / "leak.py"
    module.write_text("import os\n\ndef f():\n    from producer.blobs import BlobStore\n    return BlobStore\n")
    assert [hit for hit in imported_modules(module) if hit[1].startswith("producer")] == [(4, "producer.blobs")]


def test_no_relative_imports_hide_from_the_check() -> None:
    relative = [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for package in ("shared", "workers", "producer", "pixels2posts", "training")
        for path in (REPO / package).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.level > 0
    ]
    assert relative == []
