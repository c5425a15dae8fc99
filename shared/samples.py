"""Sample photos that ship inside installed packages (Ultralytics' bus.jpg and zidane.jpg), found without importing
the package, so the runtime needs neither torch nor ultralytics to use them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SAMPLE_NAMES = ("bus.jpg", "zidane.jpg")


def sample_images() -> list[Path]:
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "sample images come with the ultralytics package: `pip install --no-deps ultralytics` (no torch needed)"
        )
    assets = Path(next(iter(spec.submodule_search_locations))) / "assets"
    found = [assets / name for name in SAMPLE_NAMES if (assets / name).is_file()]
    if not found:
        raise FileNotFoundError(f"no sample images in {assets}")
    return found
