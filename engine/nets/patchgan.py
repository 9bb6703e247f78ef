"""The pix2pix 70x70 PatchGAN discriminator, optionally multi-scale (pix2pixHD).

It sees the segmentation and an image stacked on the channel axis and scores every
overlapping 70x70 patch as real or fake; with n_layers=3 the receptive field is 70 pixels.
With `scales` > 1, copies of it see the pair downsampled 2x, 4x, ... (coarser structure),
and every scale returns its intermediate features for the feature-matching loss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as with_spectral_norm

from .norm import NormKind, make_norm

# Checkpoints written before these were options had one scale and no spectral norm.
_LEGACY = {"scales": 1, "spectral_norm": False}


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Hyper-parameters of the discriminator; stored in training checkpoints."""

    ndf: int = 64
    n_layers: int = 3
    in_channels: int = 6  # segmentation (3) + image (3)
    norm: NormKind = "instance"
    scales: int = 2  # pix2pixHD's multi-scale discriminator; 1 is pix2pix's
    spectral_norm: bool = True  # as in SPADE

    def __post_init__(self) -> None:
        if self.ndf < 1:
            raise ValueError(f"ndf must be >= 1, got {self.ndf}")
        if self.n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {self.n_layers}")
        if not 1 <= self.scales <= 4:
            raise ValueError(f"scales must be between 1 and 4, got {self.scales}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiscriminatorConfig:
        return cls(**{**_LEGACY, **data})


Features = list[torch.Tensor]  # one scale's activations, the patch logits last


class PatchDiscriminator(nn.Module):
    """Maps (B, 6, H, W) to (B, 1, H/8 - 2, W/8 - 2) patch logits (n_layers=3)."""

    def __init__(self, cfg: DiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        wrap = with_spectral_norm if cfg.spectral_norm else (lambda conv: conv)
        blocks: list[nn.Module] = [
            nn.Sequential(wrap(nn.Conv2d(cfg.in_channels, cfg.ndf, 4, 2, 1)), nn.LeakyReLU(0.2))
        ]
        width = cfg.ndf
        for i in range(1, cfg.n_layers + 1):
            next_width = cfg.ndf * min(2**i, 8)
            stride = 2 if i < cfg.n_layers else 1
            blocks.append(
                nn.Sequential(
                    wrap(nn.Conv2d(width, next_width, 4, stride, 1, bias=False)),
                    make_norm(cfg.norm, next_width),
                    nn.LeakyReLU(0.2),
                )
            )
            width = next_width
        blocks.append(wrap(nn.Conv2d(width, 1, 4, 1, 1)))
        self.blocks = nn.ModuleList(blocks)

    def features(self, pair: torch.Tensor) -> Features:
        """Every block's output for a (B, 6, H, W) pair; the last is the patch logits."""
        out = []
        for block in self.blocks:
            pair = block(pair)
            out.append(pair)
        return out


class MultiScaleDiscriminator(nn.Module):
    """`scales` PatchGANs; scale s sees the pair average-pooled s times (pix2pixHD)."""

    def __init__(self, cfg: DiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.scales: list[PatchDiscriminator] = nn.ModuleList(  # type: ignore[assignment]
            PatchDiscriminator(cfg) for _ in range(cfg.scales)
        )

    def forward(self, segmentation: torch.Tensor, image: torch.Tensor) -> list[Features]:
        """Features of every scale, finest first."""
        pair = torch.cat([segmentation, image], dim=1)
        out = []
        for i, scale in enumerate(self.scales):
            if i:
                pair = F.avg_pool2d(pair, 3, stride=2, padding=1, count_include_pad=False)
            out.append(scale.features(pair))
        return out
