"""Conversions between PIL images and tensors (apart, so that images are checked and
decoded without importing torch)."""

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
