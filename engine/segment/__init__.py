"""Segmenters: partial information about a photo that the generator turns back into one."""

from __future__ import annotations

from typing import Any

from .base import Segmentation, Segmenter
from .clusters import ClustersConfig, ClustersSegmenter
from .edges import EdgesConfig, EdgesSegmenter

SegmenterConfig = ClustersConfig | EdgesConfig
SEGMENTER_KINDS = ("clusters", "edges")


def segmenter_config_from_dict(data: dict[str, Any]) -> SegmenterConfig:
    """Rebuild a segmenter config saved with `to_dict()`."""
    kind = data.get("kind")
    if kind == "clusters":
        return ClustersConfig(**data)
    if kind == "edges":
        return EdgesConfig(**data)
    raise ValueError(f"segmenter kind must be one of {SEGMENTER_KINDS}, got {kind!r}")


def segmenter_label(config: SegmenterConfig) -> str:
    """'clusters k=7' or 'edges': how listings and records name a segmenter."""
    return f"clusters k={config.k}" if isinstance(config, ClustersConfig) else config.kind


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
