"""Segmenters: partial information about a photo that the generator turns back into one."""

from __future__ import annotations

from dataclasses import replace

import torch

from engine.specs import (
    SEGMENTER_KINDS,
    ClustersConfig,
    EdgesConfig,
    SegmenterConfig,
    segmenter_config_from_dict,
    segmenter_label,
)

from .base import Segmentation, Segmenter
from .clusters import ClustersSegmenter
from .edges import EdgesSegmenter, trace_larger


def build_segmenter(config: SegmenterConfig) -> Segmenter:
    """The segmenter that a config describes."""
    if isinstance(config, ClustersConfig):
        return ClustersSegmenter(config)
    return EdgesSegmenter(config)


def segment_larger(
    config: SegmenterConfig, images: torch.Tensor, state: torch.Tensor | None, scale: float
) -> torch.Tensor:
    """The segmentation of (B, 3, H, W) images that were segmented `scale` times smaller for
    the generator (with `state` from there): the same regions, drawn at this size. Clusters
    paint with the centroids fitted there; edges smooth `scale` times further, so they find
    the same edges, one pixel wide here."""
    if isinstance(config, ClustersConfig):
        if state is None:
            raise ValueError("clusters need the centroids fitted at the generator's size")
        return ClustersSegmenter(config).paint(images, state, scale)
    return EdgesSegmenter(replace(config, sigma=config.sigma * scale)).segment(images).images


__all__ = [
    "SEGMENTER_KINDS",
    "ClustersConfig",
    "ClustersSegmenter",
    "EdgesConfig",
    "EdgesSegmenter",
    "Segmentation",
    "Segmenter",
    "SegmenterConfig",
    "build_segmenter",
    "segment_larger",
    "segmenter_config_from_dict",
    "segmenter_label",
    "trace_larger",
]
