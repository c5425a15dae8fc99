"""Decoding untrusted image bytes into RGB arrays: any mode, EXIF orientation, size limits, clear errors."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from shared.errors import ImageTooLargeError, InvalidImageError

if TYPE_CHECKING:
    from shared.settings import Settings

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
EXIF_ORIENTATION = 0x0112
TURNED = frozenset(range(2, 9))  # EXIF orientations other than 1 (as stored)


@dataclass(frozen=True)
class ImageLimits:
    """What a caller accepts; passed in (from the caller's own settings), never read from globals here.

    The defaults are those of `Settings.max_image_bytes` / `max_image_pixels`."""

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 50_000_000

    @classmethod
    def of(cls, settings: Settings) -> ImageLimits:
        return cls(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)


DEFAULT_LIMITS = ImageLimits()


@dataclass(frozen=True)
class DecodedImage:
    """An RGB image as uint8 HxWx3, with the size and hash of the original file.

    `scale` maps decoded pixels back to original pixels (>1 when a big JPEG was decoded at reduced size).
    """

    rgb: np.ndarray
    sha256: str
    width: int
    height: int
    scale: float = 1.0


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_image(data: bytes, *, min_side: int | None = None, limits: ImageLimits = DEFAULT_LIMITS) -> DecodedImage:
    """Decode JPEG/PNG/WebP bytes to RGB. `min_side`: a JPEG may be decoded at reduced size down to this."""
    if len(data) > limits.max_bytes:
        raise ImageTooLargeError(f"image is {len(data)} bytes, over the {limits.max_bytes} byte limit")
    if not data:
        raise InvalidImageError("image is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ALLOWED_FORMATS:
                raise InvalidImageError(f"unsupported image format {image.format}; send JPEG, PNG or WebP")
            orientation = image.getexif().get(EXIF_ORIENTATION, 1)
            width, height = image.size[::-1] if orientation in (5, 6, 7, 8) else image.size
            if width * height > limits.max_pixels:
                raise ImageTooLargeError(
                    f"image is {width}x{height} pixels, over the {limits.max_pixels} pixel limit"
                )
            if min_side and image.format == "JPEG":
                image.draft("RGB", _draft_size(image.size, min_side))
            image.load()
    except (InvalidImageError, ImageTooLargeError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"image is too large to decode: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidImageError(f"not a readable image: {exc}") from exc
    # exif_transpose copies an image it does not turn: only call it for an orientation that turns or flips
    rgb = _to_rgb(ImageOps.exif_transpose(image) if orientation in TURNED else image)
    scale = width / rgb.width if rgb.width else 1.0
    return DecodedImage(np.asarray(rgb), sha256_hex(data), width, height, scale)


def load_image(path: str | Path, *, min_side: int | None = None, limits: ImageLimits = DEFAULT_LIMITS) -> DecodedImage:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidImageError(f"cannot read {path}: {exc.strerror}") from exc
    if size > limits.max_bytes:
        raise ImageTooLargeError(f"{path} is {size} bytes, over the {limits.max_bytes} byte limit")
    return decode_image(path.read_bytes(), min_side=min_side, limits=limits)


def _draft_size(size: tuple[int, int], min_side: int) -> tuple[int, int]:
    # draft() picks the smallest DCT scale whose result is still at least the requested size
    w, h = size
    factor = max(1.0, min(w, h) / min_side)
    return (max(1, int(w / factor)), max(1, int(h / factor)))


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = array.max() or 1.0
        return Image.fromarray((array * (255.0 / max(peak, 255.0))).astype(np.uint8)).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    return image.convert("RGB")
