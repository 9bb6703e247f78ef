"""Segmenters: partial information about a photo that the generator turns back into one."""

from __future__ import annotations

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
from .edges import EdgesSegmenter


def build_segmenter(config: SegmenterConfig) -> Segmenter:
    """The segmenter that a config describes."""
    if isinstance(config, ClustersConfig):
        return ClustersSegmenter(config)
    return EdgesSegmenter(config)


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
    "segmenter_config_from_dict",
    "segmenter_label",
]
