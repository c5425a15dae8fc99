"""Any image a shop sends reaches the detector as RGB with the right geometry, or fails with InvalidImageError."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from shared.errors import ImageTooLargeError, InvalidImageError
from shared.images import ImageLimits, decode_image, load_image
from shared.settings import Settings
from workers.vision.detector import GarmentDetector


@pytest.fixture(scope="module")
def photo(photos: list[Path]) -> Image.Image:
    return Image.fromarray(load_image(photos[0]).rgb)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def labels_found(detector: GarmentDetector, data: bytes) -> set[str]:
    return {d.label for d in detector.detect(decode_image(data)) if d.score > 0.4}


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("RGBA", "PNG"), ("CMYK", "JPEG"), ("P", "PNG"), ("L", "JPEG"), ("RGB", "WEBP"), ("I;16", "PNG")],
)
def test_given_an_image_mode_when_decoded_then_rgb_of_the_same_size_and_the_detector_runs(
    photo: Image.Image, mode: str, fmt: str, model_path: Path
) -> None:
    if mode == "I;16":
        converted = Image.fromarray(np.asarray(photo.convert("L"), dtype=np.uint16) * 257)
        assert converted.mode.startswith("I;16")
    else:
        converted = photo.convert(mode)
    decoded = decode_image(encode(converted, fmt))
    assert decoded.rgb.shape == (photo.height, photo.width, 3) and decoded.rgb.dtype == np.uint8
    assert decoded.rgb.std() > 10, "the picture survived the conversion"
    detector = GarmentDetector(model_path, Settings(ort_providers="cpu"))
    assert isinstance(detector.detect(decoded), list)


def test_given_exif_rotation_when_detected_then_boxes_follow_the_upright_picture(
    photo: Image.Image, model_path: Path
) -> None:
    detector = GarmentDetector(model_path, Settings(ort_providers="cpu"))
    upright = decode_image(encode(photo, "JPEG", quality=95))
    # stored rotated by 90 degrees clockwise, EXIF orientation 6 says "rotate back when showing"
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = photo.transpose(Image.Transpose.ROTATE_90)
    rotated = decode_image(encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert (rotated.width, rotated.height) == (upright.width, upright.height)
    assert labels_found(detector, encode(photo, "JPEG", quality=95)) == {
        d.label for d in detector.detect(rotated) if d.score > 0.4
    }


@pytest.mark.parametrize("orientation", [None, *range(1, 9)])
def test_given_any_exif_orientation_when_decoded_then_the_pixels_are_pillows_upright_ones(
    photo: Image.Image, orientation: int | None
) -> None:
    """decode_image turns only the orientations that turn or flip (exif_transpose would copy the others)."""
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    data = encode(photo.resize((60, 40)), "PNG", exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    decoded = decode_image(data)
    np.testing.assert_array_equal(decoded.rgb, expected)
    assert (decoded.height, decoded.width) == expected.shape[:2]


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", b"\xff\xd8\xff\xe0" + b"\x00" * 64, b"GIF89a" + b"\x00" * 32],
    ids=["empty", "text", "truncated-jpeg", "gif"],
)
def test_given_bad_bytes_when_decoded_then_invalid_image_error(data: bytes) -> None:
    with pytest.raises(InvalidImageError):
        decode_image(data)


def test_given_a_truncated_real_jpeg_when_decoded_then_invalid_image_error(photo: Image.Image) -> None:
    data = encode(photo, "JPEG", quality=90)
    with pytest.raises(InvalidImageError):
        decode_image(data[: len(data) // 3])


def test_given_the_callers_limits_when_decoding_then_they_apply_not_the_environments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = encode(Image.new("RGB", (300, 200), (10, 120, 200)), "PNG")
    monkeypatch.setenv("P2P_MAX_IMAGE_BYTES", "1024")  # a global limit that would refuse it: not consulted
    assert decode_image(data, limits=ImageLimits(max_bytes=len(data), max_pixels=300 * 200)).width == 300
    with pytest.raises(ImageTooLargeError, match="byte limit"):
        decode_image(data, limits=ImageLimits(max_bytes=len(data) - 1))
    with pytest.raises(ImageTooLargeError, match="300x200 pixels"):
        decode_image(data, limits=ImageLimits.of(Settings(max_image_pixels=300 * 200 - 1)))
