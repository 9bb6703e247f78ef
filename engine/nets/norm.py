"""Normalisation layers shared by the generator and the discriminator."""

from __future__ import annotations

from torch import nn

from engine.specs import NormKind


def make_norm(kind: NormKind, channels: int) -> nn.Module:
    """BatchNorm as in the paper, or InstanceNorm, which does not depend on the batch."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"norm must be 'batch' or 'instance', got {kind!r}")
