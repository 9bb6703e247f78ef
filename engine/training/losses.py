"""Adversarial and feature-matching losses over a multi-scale discriminator's features, and
colour-distribution and chroma-grain losses on the generator's output.

Each scale's features end with its patch logits. Losses are averaged over scales.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from engine.nets import Features
from engine.segment.filters import gaussian_blur

GanLoss = Literal["bce", "hinge", "lsgan"]
GAN_LOSSES: tuple[GanLoss, ...] = ("bce", "hinge", "lsgan")


def discriminator_loss(kind: GanLoss, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Push real logits up and fake logits down (pix2pix halves the sum)."""
    fake, real = fake.float(), real.float()
    if kind == "bce":
        return 0.5 * (F.softplus(fake).mean() + F.softplus(-real).mean())
    if kind == "hinge":
        return 0.5 * (F.relu(1 + fake).mean() + F.relu(1 - real).mean())
    return 0.5 * (fake.square().mean() + (real - 1).square().mean())


def generator_loss(kind: GanLoss, fake: torch.Tensor) -> torch.Tensor:
    """Make the discriminator call fakes real."""
    fake = fake.float()
    if kind == "bce":
        return F.softplus(-fake).mean()
    if kind == "hinge":
        return -fake.mean()
    return (fake - 1).square().mean()


def split_halves(scales: list[Features]) -> tuple[list[Features], list[Features]]:
    """Features of a batch cat([a, b]) -> (features of a, features of b)."""
    first = [[f.chunk(2)[0] for f in scale] for scale in scales]
    second = [[f.chunk(2)[1] for f in scale] for scale in scales]
    return first, second


def adversarial(kind: GanLoss, fake: list[Features], real: list[Features] | None) -> torch.Tensor:
    """The discriminator's loss (with `real`) or the generator's (without), scale-averaged."""
    if real is None:
        losses = [generator_loss(kind, f[-1]) for f in fake]
    else:
        losses = [discriminator_loss(kind, f[-1], r[-1]) for f, r in zip(fake, real, strict=True)]
    return torch.stack(losses).mean()


def feature_matching(fake: list[Features], real: list[Features]) -> torch.Tensor:
    """pix2pixHD's L1 between the discriminator's intermediate features of fake and real.

    Each scale counts 1/scales and each of its n layers 1/n, so lambda keeps its meaning
    whatever the discriminator's shape.
    """
    total = torch.zeros((), device=fake[0][0].device)
    for fake_scale, real_scale in zip(fake, real, strict=True):
        layers = list(zip(fake_scale[:-1], real_scale[:-1], strict=True))
        for f, r in layers:
            total = total + F.l1_loss(f.float(), r.detach().float()) / len(layers)
    return total / len(fake)


# An orthonormal basis of RGB: lightness (grey axis), then red-green and yellow-blue.
_OPPONENT = torch.tensor(
    [
        [3**-0.5, 3**-0.5, 3**-0.5],
        [2**-0.5, -(2**-0.5), 0.0],
        [6**-0.5, 6**-0.5, -2 * 6**-0.5],
    ]
)


def colour_distribution(
    fake: torch.Tensor,
    real: torch.Tensor,
    chroma_weight: float = 1.0,
    projections: int = 8,
    samples: int = 128 * 128,
) -> torch.Tensor:
    """Sliced Wasserstein distance between the pixel colours of a fake and a real batch.

    The pixels of each batch form one set; both sets are projected on random directions of
    RGB, sorted, and compared rank by rank (Heitz et al. 2021 use the same for textures).
    Unlike L1, which a generator unsure *which* colour a region had meets with the grey mean,
    this asks the batch to carry the real batch's colours, and leaves each image free to
    choose which of them it carries. Every pixel of a training crop (up to `samples` of them;
    larger images give that many random pixels, the same places in both batches) gets its own
    gradient: pooling gave each 2x2 block one gradient, and sampling a quarter of the pixels
    pulled isolated pixels; both left high-frequency patterns that read as a grid. Few
    projections, drawn afresh every step, keep the sort cheap on a CPU.

    Colours are compared in an opponent basis whose two chroma axes are scaled by
    `chroma_weight`: with 1 the basis is a rotation of RGB and changes nothing; above 1 a
    difference of hue or saturation, which spans a few hundredths of RGB where lightness spans
    tenths, counts as much as one of lightness.
    """
    height, width = fake.shape[-2:]
    places = torch.randperm(height * width, device=fake.device)[:samples]

    weights = torch.tensor([1.0, chroma_weight, chroma_weight]).unsqueeze(1)
    basis = (_OPPONENT * weights).to(fake.device)

    def pixels(images: torch.Tensor) -> torch.Tensor:  # (N, 3, H, W) -> (N * samples, 3)
        rgb = images.flatten(2)[:, :, places].float().permute(0, 2, 1).reshape(-1, 3)
        return rgb @ basis.T

    directions = F.normalize(torch.randn(3, projections, device=fake.device), dim=0)
    fake_sorted = (pixels(fake) @ directions).sort(dim=0).values
    real_sorted = (pixels(real.detach()) @ directions).sort(dim=0).values
    return F.mse_loss(fake_sorted, real_sorted)


GRAIN_SIGMA = 2.0  # engine.training.quality's chroma grain blurs with the same sigma
# The losses read grain this far from the borders: nearer, the blur sees reflected pixels, and
# a line along a border (which the generator can place, knowing where its padding is) would
# buy lightness grain for nothing.
GRAIN_MARGIN = int(4 * GRAIN_SIGMA + 0.5)


def _high_pass_spread(channels: torch.Tensor, margin: int = 0) -> torch.Tensor:
    """(N, C, H, W) -> (N,): sqrt(mean over pixels of the sum over channels of hp^2), where hp
    is a channel minus its Gaussian blur (sigma 2): what changes from pixel to pixel; pixels
    within `margin` of a border are left out."""
    high_pass = channels - gaussian_blur(channels, GRAIN_SIGMA, truncate=4.0)
    height, width = high_pass.shape[-2:]
    if margin and min(height, width) > 2 * margin:
        high_pass = high_pass[..., margin : height - margin, margin : width - margin]
    return high_pass.square().sum(dim=1).mean(dim=(1, 2)).add(1e-12).sqrt()


def chroma_grain_of(images: torch.Tensor, margin: int = 0) -> torch.Tensor:
    """(N, 3, H, W) RGB in [-1, 1] -> (N,) chroma grain: the high-pass spread of the opponent
    channels R - G and (R + G) / 2 - B (away from the borders with `margin`).

    The figure of `engine.training.quality.chroma_grain` on this scale: multiply by 127.5 for
    0..255 levels.
    """
    rgb = images.float()
    red_green = rgb[:, 0] - rgb[:, 1]
    yellow_blue = (rgb[:, 0] + rgb[:, 1]) / 2 - rgb[:, 2]
    return _high_pass_spread(torch.stack([red_green, yellow_blue], dim=1), margin)


def lightness_grain_of(images: torch.Tensor, margin: int = 0) -> torch.Tensor:
    """(N, 3, H, W) RGB in [-1, 1] -> (N,) the high-pass spread of the lightness (channel
    mean): texture in the light and dark (away from the borders with `margin`)."""
    return _high_pass_spread(images.float().mean(dim=1, keepdim=True), margin)


def chroma_grain_excess(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Batch mean of how far each output's chroma grain exceeds that of its own photo.

    A colour that changes from pixel to pixel reads as a rainbow speckle; photographs keep
    their fine texture in lightness, and their colour in regions. The colour-distribution loss
    cannot see the difference (it compares colours as a bag of pixels) and neither can a
    70x70 patch discriminator at these weights: this prices the speckle directly, and only
    beyond what the photo itself has, so colour texture that the photo carries stays free.
    """
    excess = chroma_grain_of(fake, GRAIN_MARGIN) - chroma_grain_of(real.detach(), GRAIN_MARGIN)
    return F.relu(excess).mean()


def lightness_grain_deficit(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Batch mean of how far each output's lightness grain falls short of its own photo's.

    The counterpart of `chroma_grain_excess`: the cheapest way to lose a colour speckle is to
    lose all fine detail, and photographs of petals, leaves and water have theirs in the light
    and dark. Only a shortfall costs, so texture beyond the photo's stays free.
    """
    real_grain = lightness_grain_of(real.detach(), GRAIN_MARGIN)
    return F.relu(real_grain - lightness_grain_of(fake, GRAIN_MARGIN)).mean()


def periodic_pattern(detail: torch.Tensor, period: int) -> torch.Tensor:
    """(B, C, period, period): the mean of `detail` (B, C, H, W, sides multiples of `period`)
    at each phase of a tiling by period x period squares, less its overall mean. A texture
    averages out; what a network paints the same way at every grid cell (a grid) does not."""
    batch, channels, height, width = detail.shape
    cells = detail.reshape(batch, channels, height // period, period, width // period, period)
    phases = cells.mean(dim=(2, 4))
    return phases - phases.mean(dim=(2, 3), keepdim=True)
