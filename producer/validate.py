"""Checking an uploaded or fetched image in the API without decoding it at full size.

The header gives format and size (bombs are refused before any pixel is decoded); then only as much is decoded
as proves the file is whole: a JPEG at 1/8 scale (Pillow `draft`), a PNG's chunk CRCs through IEND (`verify`,
no inflate), a WebP's RIFF length and first frame. At most `api_max_decodes` run at once, so the API's memory
stays bounded whatever arrives; the vision worker does the full decode.
"""

from __future__ import annotations

import io
import struct
import threading
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from shared.errors import ImageTooLargeError, InvalidImageError
from shared.images import ALLOWED_FORMATS, sha256_hex
from shared.settings import Settings

# decode a JPEG in the API at most this big (draft picks the nearest 1/2, 1/4, 1/8 scale above it)
_CHECK_SIDE = 256
_WEBP_FULL_DECODE_PIXELS = 4_000_000


@dataclass(frozen=True)
class ImageInfo:
    sha256: str
    format: str
    width: int
    height: int


class ImageChecker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._slots = threading.BoundedSemaphore(settings.api_max_decodes)

    def check(self, data: bytes) -> ImageInfo:
        """Raise InvalidImageError / ImageTooLargeError (clear 4xx codes) unless `data` is a whole, usable image."""
        limit = self.settings.max_image_bytes
        if len(data) > limit:
            raise ImageTooLargeError(f"image is {len(data)} bytes, over the {limit} byte limit")
        if not data:
            raise InvalidImageError("image is empty")
        with self._slots:
            return self._check(data)

    def _check(self, data: bytes) -> ImageInfo:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(data))
                fmt = str(image.format)
                width, height = self._check_header(image, fmt)
                _check_body(image, fmt, data)
        except (InvalidImageError, ImageTooLargeError):
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLargeError(f"image is too large to decode: {exc}") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
            raise InvalidImageError(f"not a readable image: {exc}") from exc
        return ImageInfo(sha256_hex(data), fmt, width, height)

    def _check_header(self, image: Image.Image, fmt: str) -> tuple[int, int]:
        if fmt not in ALLOWED_FORMATS:
            raise InvalidImageError(f"unsupported image format {fmt}; send JPEG, PNG or WebP")
        if getattr(image, "is_animated", False):
            raise InvalidImageError("animated images are not supported; send a single photo")
        width, height = image.size  # the pixel count and the smaller side do not depend on EXIF rotation
        if width * height > self.settings.max_image_pixels:
            raise ImageTooLargeError(
                f"image is {width}x{height} pixels, over the {self.settings.max_image_pixels} pixel limit"
            )
        if min(width, height) < self.settings.min_image_side:
            raise InvalidImageError(
                f"image is {width}x{height} pixels, under the {self.settings.min_image_side} pixel minimum side"
            )
        return width, height


def _check_body(image: Image.Image, fmt: str, data: bytes) -> None:
    if fmt == "JPEG":
        image.draft("RGB", (_CHECK_SIDE, _CHECK_SIDE))
        image.load()  # a truncated or corrupt scan raises here
    elif fmt == "PNG":
        image.verify()  # every chunk's CRC, through IEND
        _png_pixels(data)
    else:
        _check_riff(data)
        if image.size[0] * image.size[1] <= _WEBP_FULL_DECODE_PIXELS:
            image.load()


def _png_pixels(data: bytes) -> None:
    """verify() does not inflate: decode the first rows so corrupt compressed data is caught too."""
    with Image.open(io.BytesIO(data)) as fresh:
        fresh.draft(None, (_CHECK_SIDE, _CHECK_SIDE))
        if fresh.size[0] * fresh.size[1] <= _WEBP_FULL_DECODE_PIXELS:
            fresh.load()


def _check_riff(data: bytes) -> None:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise InvalidImageError("not a WebP file (no RIFF/WEBP header)")
    declared = struct.unpack("<I", data[4:8])[0] + 8
    if declared > len(data):
        raise InvalidImageError(f"WebP is truncated: {len(data)} of {declared} bytes")
