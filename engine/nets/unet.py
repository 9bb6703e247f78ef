"""The pix2pix U-Net generator (Isola et al. 2017, "unet_256" at depth 8).

Encoder: `depth` stride-2 4x4 convolutions, widths ngf, 2ngf, 4ngf, 8ngf, 8ngf, ...
Decoder: mirrored transposed convolutions, each concatenated with its encoder twin (skip).
Dropout 0.5 in the three innermost decoder levels is a training-time regulariser only:
inference runs in eval mode, so the same input always gives the same output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from .norm import NormKind, make_norm


@dataclass(frozen=True)
class GeneratorConfig:
    """Hyper-parameters of the generator; stored inside every model file."""

    ngf: int = 64
    depth: int = 8
    in_channels: int = 3
    out_channels: int = 3
    norm: NormKind = "instance"
    dropout: float = 0.5

    def __post_init__(self) -> None:
        if self.ngf < 1:
            raise ValueError(f"ngf must be >= 1, got {self.ngf}")
        if not 5 <= self.depth <= 10:
            raise ValueError(f"depth must be between 5 and 10, got {self.depth}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return 2**self.depth

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        return cls(**data)


def _width(cfg: GeneratorConfig, level: int) -> int:
    """Channels after encoder level `level` (0 = outermost): ngf * 2**level, capped at 8 ngf."""
    return cfg.ngf * min(2**level, 8)


class _Down(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, norm: NormKind | None, activation: bool) -> None:
        # Not in place: the input is also a skip connection.
        layers: list[nn.Module] = [nn.LeakyReLU(0.2)] if activation else []
        layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm is None))
        if norm is not None:
            layers.append(make_norm(norm, c_out))
        super().__init__(*layers)


class _Up(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, norm: NormKind | None, dropout: float) -> None:
        layers: list[nn.Module] = [
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=norm is None),
        ]
        if norm is not None:
            layers.append(make_norm(norm, c_out))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


class UnetGenerator(nn.Module):
    """Maps a (B, in, H, W) segmentation in [-1, 1] to a (B, out, H, W) image in [-1, 1]."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.depth
        widths = [_width(cfg, i) for i in range(d)]
        # Outermost down has no norm or activation; innermost has no norm (its output is 1x1).
        self.downs = nn.ModuleList(
            _Down(
                cfg.in_channels if i == 0 else widths[i - 1],
                widths[i],
                norm=None if i in (0, d - 1) else cfg.norm,
                activation=i > 0,
            )
            for i in range(d)
        )
        # ups[i] produces the tensor that is concatenated with downs[i - 1]'s output.
        self.ups = nn.ModuleList(
            _Up(
                widths[i] if i == d - 1 else 2 * widths[i],
                widths[i - 1],
                norm=cfg.norm,
                dropout=cfg.dropout if d - 4 <= i < d - 1 else 0.0,
            )
            for i in range(d - 1, 0, -1)
        )
        self.outermost = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * widths[0], cfg.out_channels, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down in self.downs:  # (B, C_i, H / 2**(i+1), W / 2**(i+1))
            x = down(x)
            skips.append(x)
        x = skips.pop()
        for up in self.ups:
            x = torch.cat([up(x), skips.pop()], dim=1)
        return self.outermost(x)  # (B, out, H, W)


def default_depth(size: int) -> int:
    """unet_256 has 8 levels; a smaller crop gets as many as it can halve through (>= 5)."""
    depth = 8
    while depth > 5 and size % 2**depth:
        depth -= 1
    return depth
