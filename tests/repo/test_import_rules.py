"""The rooms and their doors, read from the source with `ast`: lower rooms never import higher ones.

shared  <-  workers, producer (never each other)  <-  pixels2posts (the CLI, evaluation, catalogue building)
<-  training. Runtime packages (what a worker or the API runs) import no evaluation, training or building code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import imports_of

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


def imported_modules(paths: list[Path]) -> dict[Path, list[tuple[int, str]]]:
    """path -> (line, absolute module name) of every import in the file, also those inside functions."""
    return {path: [(s.line, s.module) for s in statements if s.level == 0 and s.module]
            for path, statements in imports_of(paths).items()}


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path, modules in sorted(imported_modules(sorted((REPO / package).rglob("*.py"))).items()):
        for line, module in modules:
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
    assert [hit for hit in imported_modules([module])[module] if hit[1].startswith("producer")] == [
        (4, "producer.blobs")]


def test_no_relative_imports_hide_from_the_check() -> None:
    paths = [path for package in ("shared", "workers", "producer", "pixels2posts", "training")
             for path in (REPO / package).rglob("*.py")]
    relative = [f"{path.relative_to(REPO)}:{statement.line}"
                for path, statements in imports_of(paths).items() for statement in statements if statement.level > 0]
    assert relative == []
