"""The tests' layout (tests/README.md): a test folder names the package it tests, and being a package itself it can
never shadow that package (`tests/shared/` is `tests.shared`; `import shared` stays the real one)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
# folders that test the whole system, or hold no tests of their own
WHOLE = {"system", "faults", "deploy", "repo", "support", "data"}
OURS = ("shared", "producer", "workers", "pixels2posts", "training")


def _test_folders() -> list[Path]:
    return sorted(p.parent for p in TESTS.rglob("test_*.py") if "data" not in p.relative_to(TESTS).parts)


def test_every_test_folder_is_a_package_up_to_tests() -> None:
    missing = sorted({str(folder.relative_to(REPO)) for start in _test_folders() for folder in (start, *start.parents)
                      if folder.is_relative_to(TESTS) and not (folder / "__init__.py").is_file()})
    assert not missing, f"test folders without __init__.py (their modules could shadow ours): {missing}"


def test_every_package_test_folder_mirrors_a_package() -> None:
    orphans = []
    for folder in _test_folders():
        relative = folder.relative_to(TESTS)
        if relative.parts and relative.parts[0] not in WHOLE and not (REPO / relative / "__init__.py").is_file():
            orphans.append(str(relative))
    assert not orphans, f"tests/<path> must name a package at <path> (or be a whole-system folder): {orphans}"


@pytest.mark.parametrize("name", OURS)
def test_our_packages_are_the_real_ones_inside_the_tests(name: str) -> None:
    module = importlib.import_module(name)
    assert Path(module.__file__ or "").resolve().parent == REPO / name
