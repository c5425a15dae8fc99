"""The API checks an upload without decoding it at full size (issue 12: "decode in the API only what is needed to
validate, with a memory bound"): a 24-megapixel JPEG and PNG are checked in a fresh process whose peak resident
memory is measured around the check, next to a full decode of the same file measured the same way (the control
that shows the measurement sees a full decode)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow

SIZE = (6000, 4000)  # 24 MP: 72 MB as RGB
FULL_RGB_MB = SIZE[0] * SIZE[1] * 3 / 2**20
CHECK_BOUND_MB = 16  # the checker's own decode stays far under a full frame

# VmHWM, the process's peak resident memory in kB (not ru_maxrss: Linux carries that over from the parent pytest)
PROBE = """
import io, sys
from pathlib import Path
from PIL import Image
from producer.validate import ImageChecker
from shared.settings import Settings

def peak_kb():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:"))
    return int(line.split()[1])

data = Path(sys.argv[1]).read_bytes()
checker = ImageChecker(Settings())
before = peak_kb()
if sys.argv[2] == "check":
    info = checker.check(data)
    assert (info.width, info.height) == (6000, 4000), info
else:
    Image.open(io.BytesIO(data)).load()
print((peak_kb() - before) / 1024)
"""


def photo_file(tmp_path: Path, fmt: str) -> Path:
    width, height = SIZE
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, (x // 7 + y // 5) % 256], axis=-1).astype(np.uint8)
    buffer = io.BytesIO()
    options = {"quality": 85} if fmt == "JPEG" else {"compress_level": 1}
    Image.fromarray(pixels).save(buffer, format=fmt, **options)
    path = tmp_path / f"big.{fmt.lower()}"
    path.write_bytes(buffer.getvalue())
    return path


def peak_growth_mb(path: Path, mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", PROBE, str(path), mode], capture_output=True, text=True,
                         timeout=120, check=True)
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_given_a_24_megapixel_upload_then_the_check_uses_a_fraction_of_a_full_decode(
    tmp_path: Path, fmt: str
) -> None:
    path = photo_file(tmp_path, fmt)
    checked, decoded = peak_growth_mb(path, "check"), peak_growth_mb(path, "decode")
    assert decoded > FULL_RGB_MB * 0.8, f"control: a full decode grew the peak by only {decoded:.0f} MB"
    assert checked < CHECK_BOUND_MB, f"the check grew the peak by {checked:.0f} MB (full decode {decoded:.0f} MB)"
