"""Small image filters on (B, C, H, W) tensors, shared by the segmenters."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def gaussian_blur(images: torch.Tensor, sigma: float, truncate: float = 3.0) -> torch.Tensor:
    """Separable Gaussian blur with reflected borders, cut `truncate` sigmas out (scipy.ndimage
    cuts at 4); sigma <= 0 returns the input. Differentiable."""
    if sigma <= 0:
        return images
    radius = max(1, math.ceil(truncate * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    weights = (kernel / kernel.sum()).tolist()
    # Reflect padding needs pad < size; replicate works for any size.
    mode = "reflect" if min(images.shape[-2:]) > radius else "replicate"
    rows = _symmetric_taps(F.pad(images, (radius, radius, 0, 0), mode=mode), weights, -1)
    return _symmetric_taps(F.pad(rows, (0, 0, radius, radius), mode=mode), weights, -2)


def _symmetric_taps(padded: torch.Tensor, weights: list[float], dim: int) -> torch.Tensor:
    """A symmetric 1-D filter along `dim` of an input padded by its radius, as shifted adds:
    the same sums up to rounding, and on a CPU 2 to 17 times faster than a grouped
    convolution, whose one-channel kernels run 1-D filters poorly (21 against 70 ms for
    sigma 6 at 1024x768; 2.4 against 42 ms for sigma 1.5 on eight 256 px frames)."""
    radius = len(weights) // 2
    size = padded.shape[dim] - 2 * radius
    out = padded.narrow(dim, radius, size) * weights[radius]
    for shift in range(1, radius + 1):
        pair = padded.narrow(dim, radius - shift, size) + padded.narrow(dim, radius + shift, size)
        out = out + pair * weights[radius + shift]
    return out


def grayscale(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) sRGB -> (B, 1, H, W) luma (Rec. 601 weights)."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype, device=images.device)
    return (images * weights.view(1, 3, 1, 1)).sum(1, keepdim=True)


def masked_min_max(values: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    """Per-image min and max of (B, 1, H, W) values over mask (B, 1, H, W), shaped (B, 1, 1, 1)."""
    if mask is None:
        mask = torch.ones_like(values, dtype=torch.bool)
    flat, keep = values.flatten(1), mask.flatten(1)
    low = flat.masked_fill(~keep, math.inf).amin(1)
    high = flat.masked_fill(~keep, -math.inf).amax(1)
    return low.view(-1, 1, 1, 1), high.view(-1, 1, 1, 1)
