"""Validation metrics on (B, 3, H, W) images in [0, 1]."""

from __future__ import annotations

import numpy as np
import torch


def l1(output: torch.Tensor, target: torch.Tensor) -> float:
    """Mean absolute error."""
    return float((output - target).abs().mean())


def psnr(output: torch.Tensor, target: torch.Tensor) -> float:
    """Mean over the batch of the peak signal-to-noise ratio (dB), peak 1."""
    mse = (output - target).square().flatten(1).mean(1).clamp(min=1e-10)
    return float((10 * torch.log10(1 / mse)).mean())


def ssim(output: torch.Tensor, target: torch.Tensor) -> float:
    """Mean structural similarity (scikit-image, colour, data range 1)."""
    # Imported here: scipy.ndimage behind it takes half a second, which every command that
    # loads the engine would pay, and only a training's validation needs it.
    from skimage.metrics import structural_similarity

    values = [
        structural_similarity(
            o.permute(1, 2, 0).cpu().double().numpy(),
            t.permute(1, 2, 0).cpu().double().numpy(),
            channel_axis=2,
            data_range=1.0,
        )
        for o, t in zip(output, target, strict=True)
    ]
    return float(np.mean(values))


def evaluate(output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """L1, PSNR and SSIM of a batch."""
    return {"l1": l1(output, target), "psnr": psnr(output, target), "ssim": ssim(output, target)}
