"""Encode images to PNG, JPEG or WebP bytes."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Literal, get_args

from PIL import Image

from engine.errors import EngineError

log = logging.getLogger(__name__)

ImageFormat = Literal["png", "jpeg", "webp"]
FORMATS: tuple[ImageFormat, ...] = get_args(ImageFormat)
_SUFFIXES: dict[str, ImageFormat] = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
}


PNG_COMPRESS_LEVEL = 1


def encode_image(image: Image.Image, fmt: ImageFormat = "png", quality: int = 90) -> bytes:
    """Encode an image; `quality` (1-100) applies to JPEG and WebP."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be between 1 and 100, got {quality}")
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    if fmt == "png":
        # zlib level 1: 9 ms for a 516x171 result against 21 at Pillow's default 6, for a
        # file 6% larger; photographs hardly compress further.
        image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    elif fmt == "jpeg":
        image.save(buffer, format="JPEG", quality=quality)
    else:
        image.save(buffer, format="WEBP", quality=quality)
    return buffer.getvalue()


MAX_FIT_TRIES = 6
MIN_FIT_SIDE = 64  # smaller than this, a result is no longer worth sending


def encode_within(
    image: Image.Image,
    fmt: ImageFormat = "png",
    budget_bytes: int | None = None,
    quality: int = 90,
) -> tuple[bytes, Image.Image, list[str]]:
    """Encode `image`, made smaller until it fits `budget_bytes` (None: as it is).

    Returns the bytes, the image encoded and notes saying what had to change; EngineError when
    even a small version does not fit.
    """
    data = encode_image(image, fmt, quality)
    if budget_bytes is None or len(data) <= budget_bytes:
        return data, image, []
    smaller = image
    for _ in range(MAX_FIT_TRIES):
        scale = 0.9 * (budget_bytes / len(data)) ** 0.5
        size = (max(1, round(smaller.width * scale)), max(1, round(smaller.height * scale)))
        if max(size) < MIN_FIT_SIDE:
            break
        smaller = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        data = encode_image(smaller, fmt, quality)
        if len(data) <= budget_bytes:
            return data, smaller, [f"resolution lowered to {smaller.width}x{smaller.height}"]
    raise EngineError(f"the result does not fit in {_size_text(budget_bytes)}, even made smaller")


def _size_text(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 1024:.0f} KiB"


def format_from_path(path: Path) -> ImageFormat:
    """The output format a file name asks for, from its suffix."""
    suffix = path.suffix.lower()
    try:
        return _SUFFIXES[suffix]
    except KeyError:
        known = ", ".join(_SUFFIXES)
        raise ValueError(f"unknown image suffix {suffix!r} in {path} (use {known})") from None
