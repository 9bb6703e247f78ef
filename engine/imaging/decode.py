"""Decode untrusted bytes into RGB images, refusing what is not an image or too big.

The pixel limit is checked on the declared size, before any pixel is decoded, so a
decompression bomb costs a header read, not gigabytes of memory.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from engine.errors import InputError

MiB = 1024 * 1024


@dataclass(frozen=True)
class ImageLimits:
    """Upper bounds on untrusted images."""

    max_bytes: int = 25 * MiB
    max_pixels: int = 40_000_000

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_pixels <= 0:
            raise ValueError(f"limits must be positive, got {self}")


def _check_size(width: int, height: int, limits: ImageLimits) -> None:
    if width * height > limits.max_pixels:
        raise InputError(
            f"image is too large: {width}x{height} pixels "
            f"(limit {limits.max_pixels / 1e6:.0f} megapixels)"
        )


def _open(data: bytes, limits: ImageLimits) -> Image.Image:
    if not data:
        raise InputError("file is empty")
    if len(data) > limits.max_bytes:
        raise InputError(
            f"file is too big: {len(data) / MiB:.1f} MiB (limit {limits.max_bytes / MiB:.0f} MiB)"
        )
    try:
        with warnings.catch_warnings():
            # Our own pixel limit applies; PIL's global bomb check is a second line of defence.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InputError("not an image (unknown or unsupported format)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError("image is truncated or corrupt") from exc
    _check_size(*image.size, limits)
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any mode -> 8-bit RGB; transparency is flattened onto white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grayscale: scale the full range down to 8 bits.
        high = 65535 if image.mode.startswith("I;16") or (image.getextrema()[1] or 0) > 255 else 255
        image = image.point(lambda value: value * (255 / high)).convert("L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def decode_image(data: bytes, limits: ImageLimits = ImageLimits()) -> Image.Image:
    """Decode untrusted bytes into an 8-bit RGB image, upright, first frame if animated."""
    image = _open(data, limits)
    try:
        image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image) or image
        return _to_rgb(image)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InputError("image is truncated or corrupt") from exc
    except Image.DecompressionBombError:
        raise InputError("image is too large to decode safely") from None


def read_image(path: Path, limits: ImageLimits = ImageLimits()) -> Image.Image:
    """Read and decode a file, refusing one over the byte limit before reading it."""
    if path.is_dir():
        raise InputError("is a folder, not an image")
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise InputError(
            f"file is too big: {size / MiB:.1f} MiB (limit {limits.max_bytes / MiB:.0f} MiB)"
        )
    return decode_image(path.read_bytes(), limits)
