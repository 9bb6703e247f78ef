"""Conversions between PIL images and tensors, and aspect-preserving resizing."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def to_tensor(image: Image.Image) -> torch.Tensor:
    """(3, H, W) float32 tensor in [0, 1] from an image (converted to RGB if needed)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    array = np.array(image, dtype=np.uint8)  # (H, W, 3), a writable copy for torch
    return torch.from_numpy(array).permute(2, 0, 1).contiguous().float().div_(255.0)


def to_image(tensor: torch.Tensor) -> Image.Image:
    """RGB image from a (3, H, W) tensor in [0, 1]; values are clamped and rounded."""
    if tensor.ndim != 3 or tensor.shape[0] != 3:
        raise ValueError(f"tensor must have shape (3, H, W), got {tuple(tensor.shape)}")
    values = torch.nan_to_num(tensor.detach().to("cpu", torch.float32), nan=0.0)
    array = values.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).contiguous().numpy())


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
