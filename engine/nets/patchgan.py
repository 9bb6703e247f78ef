"""The pix2pix 70x70 PatchGAN discriminator.

It sees the segmentation and an image stacked on the channel axis and scores every
overlapping 70x70 patch as real or fake; with n_layers=3 the receptive field is 70 pixels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from .norm import NormKind, make_norm


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Hyper-parameters of the discriminator; stored in training checkpoints."""

    ndf: int = 64
    n_layers: int = 3
    in_channels: int = 6  # segmentation (3) + image (3)
    norm: NormKind = "instance"

    def __post_init__(self) -> None:
        if self.ndf < 1:
            raise ValueError(f"ndf must be >= 1, got {self.ndf}")
        if self.n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {self.n_layers}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiscriminatorConfig:
        return cls(**data)


class PatchDiscriminator(nn.Module):
    """Maps (B, 6, H, W) to (B, 1, H/8 - 2, W/8 - 2) patch logits (n_layers=3)."""

    def __init__(self, cfg: DiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = [
            nn.Conv2d(cfg.in_channels, cfg.ndf, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        width = cfg.ndf
        for i in range(1, cfg.n_layers + 1):
            next_width = cfg.ndf * min(2**i, 8)
            stride = 2 if i < cfg.n_layers else 1
            layers += [
                nn.Conv2d(width, next_width, 4, stride, 1, bias=False),
                make_norm(cfg.norm, next_width),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width = next_width
        layers.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, segmentation: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.model(torch.cat([segmentation, image], dim=1))
