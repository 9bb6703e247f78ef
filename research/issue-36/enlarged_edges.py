"""Experiment (issue 36, not product code): the detail network sees the edges found at the
generator's size, enlarged, instead of Canny at the answer's size. `patch()` swaps it into
training and serving in this process."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import engine.segment as seg
from engine.specs import SegmenterConfig


def segment_enlarged(
    config: SegmenterConfig, images: torch.Tensor, state: torch.Tensor | None, scale: float
) -> torch.Tensor:
    """Edges found `scale` times smaller, enlarged (bilinear); clusters as in the product."""
    if isinstance(config, seg.ClustersConfig):
        return seg.segment_larger(config, images, state, scale)
    height, width = images.shape[-2:]
    small_size = (round(height / scale), round(width / scale))
    small = F.interpolate(images, size=small_size, mode="bilinear", antialias=True)
    edges = seg.EdgesSegmenter(config).segment(small.clamp(0, 1)).images
    return F.interpolate(edges, size=(height, width), mode="bilinear", align_corners=False)


def patch() -> None:
    import engine.pipeline.images as images
    import engine.training.detail as detail

    detail.segment_larger = segment_enlarged  # type: ignore[assignment]
    images.segment_larger = segment_enlarged  # type: ignore[assignment]
