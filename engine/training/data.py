"""Training pairs from a few photos: random crops at several scales, and flips.

The photos are held in memory as uint8 tensors; each step draws fresh crops, so 25
photos give many thousands of distinct patches. The held-out split is fixed by the seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from engine.imaging import ImageLimits, read_image
from engine.imaging.tensors import to_tensor

MIN_IMAGES = 2


def load_photos(paths: Sequence[Path], limits: ImageLimits = ImageLimits()) -> list[torch.Tensor]:
    """Decode every path into a (3, H, W) uint8 tensor."""
    return [(to_tensor(read_image(path, limits)) * 255).round().to(torch.uint8) for path in paths]


def split_holdout(
    paths: Sequence[Path], fraction: float, seed: int
) -> tuple[list[Path], list[Path]]:
    """(train, held-out) split of sorted paths; at least one image on each side."""
    if len(paths) < MIN_IMAGES:
        raise ValueError(f"need at least {MIN_IMAGES} images to train, got {len(paths)}")
    ordered = sorted(paths)
    permutation = torch.randperm(len(ordered), generator=torch.Generator().manual_seed(seed))
    held = max(1, min(len(ordered) - 1, round(len(ordered) * fraction)))
    chosen = set(permutation[:held].tolist())
    train = [p for i, p in enumerate(ordered) if i not in chosen]
    return train, [p for i, p in enumerate(ordered) if i in chosen]


def _resize(crop: torch.Tensor, size: int) -> torch.Tensor:
    """(3, h, w) uint8 -> (3, size, size) float in [0, 1], antialiased."""
    batch = crop.unsqueeze(0).float() / 255
    return F.interpolate(batch, (size, size), mode="bilinear", antialias=True).clamp(0, 1)[0]


class CropSampler:
    """Draws random square crops (random scale, position and horizontal flip)."""

    def __init__(
        self, photos: Sequence[torch.Tensor], size: int, min_fraction: float, seed: int
    ) -> None:
        if not photos:
            raise ValueError("CropSampler needs at least one photo")
        self.photos = list(photos)
        self.size = size
        self.min_fraction = min_fraction
        self.generator = torch.Generator().manual_seed(seed)

    def _uniform(self) -> float:
        return float(torch.rand((), generator=self.generator))

    def crop(self) -> torch.Tensor:
        """One (3, size, size) crop in [0, 1]."""
        index = int(torch.randint(len(self.photos), (), generator=self.generator))
        photo = self.photos[index]
        short = min(photo.shape[1:])
        smallest = min(short, max(self.min_fraction * short, min(self.size, short) * 0.5))
        # Log-uniform crop side: as many close-ups as wide views.
        side = round(math.exp(math.log(smallest) + self._uniform() * math.log(short / smallest)))
        top = int(self._uniform() * (photo.shape[1] - side + 1))
        left = int(self._uniform() * (photo.shape[2] - side + 1))
        crop = _resize(photo[:, top : top + side, left : left + side], self.size)
        return crop.flip(-1) if self._uniform() < 0.5 else crop

    def batch(self, count: int) -> torch.Tensor:
        """(count, 3, size, size) crops."""
        return torch.stack([self.crop() for _ in range(count)])


def validation_crops(photos: Sequence[torch.Tensor], size: int) -> torch.Tensor:
    """Fixed crops of held-out photos: the centred square of the whole short side."""
    crops = []
    for photo in photos:
        short = min(photo.shape[1:])
        top, left = (photo.shape[1] - short) // 2, (photo.shape[2] - short) // 2
        crops.append(_resize(photo[:, top : top + short, left : left + short], size))
    return torch.stack(crops)
