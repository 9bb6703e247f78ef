"""The detail network (issue 36): paints a result larger than the generator's.

The generator paints at its own size (256 px) from the segmentation. To answer at up to
1024 px, its picture is enlarged (bilinear) and this network adds what enlarging cannot:
texture at the result's own scale, from the enlarged picture and the segmentation made at
the result's size (whose region borders are sharp there). It works at half the result's size,
pixel-unshuffled in and pixel-shuffled out as ESPCN does, so that it costs a few GFLOP per
megapixel.

What it adds carries no coarse content: its output minus that output's own average over each
of the generator's pixels. Box-downsampled to the generator's size, the result is the
generator's picture: detail is added, not a new picture painted. Before that, a fixed
binomial [1 2 1] filter smooths it: the pixel shuffle's four sub-pixel phases are four
separate filters, whose differences left a period-2 pattern (grid index 5.3 at 768 px without
it, 2.3 with it).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from engine.specs import EnhancerConfig

UNSHUFFLE = 2  # the network runs at half the result's size
SLOPE = 0.2


class _Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.first = nn.Conv2d(channels, channels, 3, padding=1)
        self.second = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.second(F.leaky_relu(self.first(x), SLOPE))


class DetailEnhancer(nn.Module):
    """(the generator's picture, the segmentation at the result's size) -> the result."""

    smoothing: torch.Tensor

    def __init__(self, cfg: EnhancerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        folded = 6 * UNSHUFFLE**2  # picture and segmentation, pixel-unshuffled
        self.head = nn.Conv2d(folded, cfg.channels, 3, padding=1)
        self.body = nn.Sequential(*(_Residual(cfg.channels) for _ in range(cfg.blocks)))
        self.tail = nn.Conv2d(cfg.channels, 3 * UNSHUFFLE**2, 3, padding=1)
        for parameter in self.tail.parameters():  # untrained, it adds nothing
            nn.init.zeros_(parameter)
        binomial = torch.tensor([1.0, 2.0, 1.0])
        smoothing = (binomial[:, None] * binomial[None, :] / 16).expand(3, 1, 3, 3)
        self.register_buffer("smoothing", smoothing.contiguous(), persistent=False)

    @property
    def multiple(self) -> int:
        """The result's height and width must be multiples of this."""
        return UNSHUFFLE

    def forward(self, picture: torch.Tensor, segmentation: torch.Tensor) -> torch.Tensor:
        """picture (B, 3, h, w): the generator's, in [-1, 1]; segmentation (B, 3, H, W) in
        [-1, 1] at the result's size (even sides) -> the result (B, 3, H, W) in [-1, 1]."""
        enlarged, folded = self.fold(picture, segmentation)
        return self.unfold(self.paint(folded), enlarged, picture.shape[-2:])

    def fold(
        self, picture: torch.Tensor, segmentation: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The picture enlarged to the segmentation's size, and both pixel-unshuffled: what
        `paint` takes."""
        size = segmentation.shape[-2:]
        enlarged = F.interpolate(picture, size=size, mode="bilinear", align_corners=False)
        x = torch.cat([enlarged, segmentation.to(enlarged.dtype)], 1)
        return enlarged, F.pixel_unshuffle(x, UNSHUFFLE)

    def paint(self, folded: torch.Tensor) -> torch.Tensor:
        """The convolutions, at half the result's size, on `fold`'s output: nearly all the
        network's time, and all a runtime needs to run (they hold no noise, so one graph
        serves every size; with the shuffle and smoothing in it too, OpenVINO ran no faster)."""
        return self.tail(self.body(F.leaky_relu(self.head(folded), SLOPE)))

    def unfold(
        self, painted: torch.Tensor, enlarged: torch.Tensor, small: Sequence[int]
    ) -> torch.Tensor:
        """`paint`'s output as the result: shuffled to full size, smoothed, its coarse part
        taken out (`small` is the generator's picture's (height, width)) and added."""
        detail = F.pixel_shuffle(painted.to(enlarged.dtype), UNSHUFFLE)
        smoothing = self.smoothing.to(detail.dtype)
        detail = F.conv2d(F.pad(detail, (1, 1, 1, 1), mode="replicate"), smoothing, groups=3)
        return (enlarged + without_coarse(detail, small)).clamp(-1, 1)

    @property
    def painter(self) -> nn.Module:
        """A module whose forward is `paint`, sharing these weights: what exporters trace."""
        return _Painter(self)

    @property
    def folded_channels(self) -> int:
        """Channels of `fold`'s output, `paint`'s input."""
        return self.head.in_channels


class _Painter(nn.Module):
    def __init__(self, enhancer: DetailEnhancer) -> None:
        super().__init__()
        self.enhancer = enhancer

    def forward(self, folded: torch.Tensor) -> torch.Tensor:
        return self.enhancer.paint(folded)


def without_coarse(detail: torch.Tensor, small: Sequence[int]) -> torch.Tensor:
    """`detail` minus its average over each pixel of the `small` (height, width) picture,
    enlarged: what it adds to that picture, less what would change it seen at its size."""
    coarse = F.adaptive_avg_pool2d(detail, (small[0], small[1]))
    return detail - F.interpolate(
        coarse, size=detail.shape[-2:], mode="bilinear", align_corners=False
    )
