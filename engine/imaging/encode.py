"""Encode results as PNG, JPEG or WebP."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

from PIL import Image

ImageFormat = Literal["png", "jpeg", "webp"]
_BY_SUFFIX: dict[str, ImageFormat] = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
}


def format_from_path(path: Path) -> ImageFormat:
    """The output format a file name asks for."""
    try:
        return _BY_SUFFIX[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"unknown image suffix {path.suffix!r}; use .png, .jpg or .webp") from None


def encode_image(image: Image.Image, fmt: ImageFormat = "png", quality: int = 90) -> bytes:
    """Encoded bytes of an RGB image."""
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, "PNG", optimize=False, compress_level=6)
    elif fmt == "jpeg":
        image.convert("RGB").save(buffer, "JPEG", quality=quality, optimize=True)
    elif fmt == "webp":
        image.save(buffer, "WEBP", quality=quality, method=4)
    else:
        raise ValueError(f"format must be png, jpeg or webp, got {fmt!r}")
    return buffer.getvalue()
