"""PIL images <-> torch tensors, and resizing that keeps the aspect ratio."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB image -> (3, H, W) float32 in [0, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255)


def to_image(tensor: torch.Tensor) -> Image.Image:
    """(3, H, W) in [0, 1] -> RGB image (clamped and rounded)."""
    array = tensor.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0)
    return Image.fromarray(array.cpu().numpy(), "RGB")


def fit_long_side(image: Image.Image, size: int) -> Image.Image:
    """Resize so that the long side is `size`, keeping the aspect ratio."""
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    scale = size / max(image.size)
    target = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if target == image.size:
        return image
    # reducing_gap makes large downscales fast (a box pre-shrink) at no visible cost.
    return image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
