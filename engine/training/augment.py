"""DiffAugment (Zhao et al. 2020): the same differentiable augmentation on the
discriminator's real and fake inputs, so that a small dataset does not let it memorise.

For pix2pix the (segmentation, image) pair is translated and cut out together; colour is
changed on the image only (the segmentation's palette is information, not a photo). One
set of random parameters is drawn per sample and used for its real and its fake pair, so
that the feature-matching loss compares like with like.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")

Pairs = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # segmentation, real, fake


def parse_policy(text: str) -> tuple[str, ...]:
    """'color,translation,cutout' -> the parts in order; '' means no augmentation."""
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in parts if p not in POLICIES]
    if unknown:
        raise ValueError(f"diff_augment parts must be among {POLICIES}, got {unknown}")
    return parts


def _uniform(batch: int, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(batch, 1, 1, 1, device=like.device, dtype=like.dtype)


def color(pairs: Pairs) -> Pairs:
    """Brightness, saturation and contrast of both images, the same for real and fake."""
    seg, real, fake = pairs
    b = real.shape[0]
    brightness = _uniform(b, real) - 0.5
    saturation = _uniform(b, real) * 2
    contrast = _uniform(b, real) + 0.5

    def apply(image: torch.Tensor) -> torch.Tensor:
        image = image + brightness
        grey = image.mean(dim=1, keepdim=True)
        image = (image - grey) * saturation + grey
        mean = image.mean(dim=(1, 2, 3), keepdim=True)
        return (image - mean) * contrast + mean

    return seg, apply(real), apply(fake)


def _shift_grid(batch: int, ratio: float, like: torch.Tensor) -> torch.Tensor:
    """A sampling grid that translates each sample by up to `ratio` of its size."""
    shift = (torch.rand(batch, 1, 2, device=like.device) * 2 - 1) * ratio * 2  # grid spans 2
    theta = torch.eye(2, 3, device=like.device).repeat(batch, 1, 1)
    theta[:, :, 2:] = shift.transpose(1, 2)
    return F.affine_grid(theta, list(like.shape), align_corners=False)


def translation(pairs: Pairs, ratio: float = 0.125) -> Pairs:
    """Shift each pair by up to 1/8 of its size, filling with zeros (mid-grey).

    Sampled in float32: on the CPU, grid_sample of a bfloat16 channels-last tensor (what the
    generator gives under autocast) returns NaN (torch 2.13)."""
    real = pairs[1]
    grid = _shift_grid(real.shape[0], ratio, real)
    return tuple(  # type: ignore[return-value]
        F.grid_sample(t.float(), grid, mode="nearest", align_corners=False).to(t.dtype)
        for t in pairs
    )


def cutout(pairs: Pairs, ratio: float = 0.5) -> Pairs:
    """Blank one random square, half the image's side, in each pair."""
    real = pairs[1]
    b, _, h, w = real.shape
    ch, cw = int(h * ratio), int(w * ratio)
    top = torch.randint(0, h - ch + 1, (b, 1, 1), device=real.device)
    left = torch.randint(0, w - cw + 1, (b, 1, 1), device=real.device)
    rows = torch.arange(h, device=real.device).view(1, h, 1)
    cols = torch.arange(w, device=real.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    keep = (~inside).unsqueeze(1)
    return tuple(t * keep.to(t.dtype) for t in pairs)  # type: ignore[return-value]


_BY_NAME: dict[str, Callable[[Pairs], Pairs]] = {
    "color": color,
    "translation": translation,
    "cutout": cutout,
}


def diff_augment(pairs: Pairs, policy: tuple[str, ...]) -> Pairs:
    """Apply the policy's parts in order; all tensors (B, 3, H, W)."""
    for name in policy:
        pairs = _BY_NAME[name](pairs)
    return pairs
