"""Aspect-preserving resizing."""

from __future__ import annotations

from PIL import Image


def fitted_size(width: int, height: int, size: int) -> tuple[int, int]:
    """(width, height) with the long side `size` and the aspect ratio kept."""
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    scale = size / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def fit_long_side(image: Image.Image, size: int) -> Image.Image:
    """Resize (up or down, LANCZOS) so the long side equals `size`, keeping the aspect ratio."""
    new_size = fitted_size(*image.size, size)
    if new_size == image.size:
        return image.copy()
    # reducing_gap first shrinks by whole factors (cheap), then LANCZOS on the rest.
    return image.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
