"""Fixtures of the attributes tests: a few real H&M product shots, the Ultralytics sample photos."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixels2posts.catalog.reader import CatalogItem, read_hm_articles


@pytest.fixture(scope="session")
def hm_items(shared_dir: Path) -> list[CatalogItem]:
    """Eight catalogue products of different kinds (women/men/kids; several fabrics)."""
    items = read_hm_articles(shared_dir / "data/hm-catalog")
    picked: list[CatalogItem] = []
    for gender in ("women", "men", "kids"):
        picked += [i for i in items if i.gender == gender and i.fabric][:3 if gender != "kids" else 2]
    return picked


@pytest.fixture(scope="session")
def sample_photos() -> dict[str, Path]:
    import importlib.util

    # locate the package without importing it (importing ultralytics patches PIL's image opening)
    spec = importlib.util.find_spec("ultralytics")
    assert spec is not None and spec.submodule_search_locations, "ultralytics (train extra) provides the photos"
    assets = Path(next(iter(spec.submodule_search_locations))) / "assets"
    return {"bus": assets / "bus.jpg", "zidane": assets / "zidane.jpg"}
