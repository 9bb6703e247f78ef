"""What every segmenter shares: its result type and the interface the pipelines call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass(frozen=True)
class Segmentation:
    """Segmented images (B, 3, H, W) in [0, 1], and state to carry to the next frames."""

    images: torch.Tensor
    state: torch.Tensor | None = None


class Segmenter(Protocol):
    """Turns photos into the partial information the generator was trained on."""

    def segment(
        self,
        images: torch.Tensor,
        mask: torch.Tensor | None = None,
        state: torch.Tensor | None = None,
    ) -> Segmentation:
        """Segment (B, 3, H, W) sRGB images in [0, 1].

        mask (B, 1, H, W) marks the real pixels (the rest is padding) and restricts the
        statistics to them; state comes from the previous call on the same video.
        """
        ...
