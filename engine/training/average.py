"""An exponential moving average of the generator's weights, the network that is served.

A GAN generator wanders from step to step as its discriminator moves; the average of its
weights over the last few hundred steps is a steadier generator (Karras et al. 2018, Yazici
et al. 2019). The average is only read (validated, registered), never trained.
"""

from __future__ import annotations

import copy
from typing import Generic, TypeVar

import torch
from torch import nn

# Early on the average follows the network closely, so a short run is not dominated by its
# random (or fine-tuned-from) initial weights: after n updates the decay is min(d, n / (n + 9)).
_WARMUP = 9


Network = TypeVar("Network", bound=nn.Module)


class WeightAverage(Generic[Network]):
    """Keeps `network`'s averaged copy, in eval mode, without gradients."""

    def __init__(self, network: Network, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.network: Network = copy.deepcopy(network).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, network: nn.Module, step: int) -> None:
        """Move the average towards `network` after its `step`-th update (1-based)."""
        decay = min(self.decay, step / (step + _WARMUP))
        for mine, theirs in zip(self.network.parameters(), network.parameters(), strict=True):
            mine.lerp_(theirs.detach(), 1 - decay)
        for kept, current in zip(self.network.buffers(), network.buffers(), strict=True):
            kept.copy_(current)

    def reset(self, network: nn.Module) -> None:
        """Start the average again from `network`'s weights."""
        self.network.load_state_dict(network.state_dict())
