"""`clusters`: the analogue of Mathematica's Colorize[ClusteringComponents[img, k]].

k-means on pixel colours in Lab, fitted on a pixel subsample and assigned to every pixel.
Clusters are ranked by lightness and painted with a fixed palette, so the same scene always
gives the same colours, whatever order k-means found the clusters in.
"""

from __future__ import annotations

import functools
import math

import torch

from engine.specs import ClustersConfig

from .base import Segmentation
from .color import lab_to_rgb, rgb_to_lab
from .filters import gaussian_blur
from .kmeans import assign, fit_centroids, refine, sample_pixels

_GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))
_TABLE_LEVELS = 32  # `paint`'s colour table: 5 bits a channel


@functools.cache
def _table_lab() -> torch.Tensor:
    """(1, 32**3, 3) Lab of every colour of 5 bits a channel, red-major."""
    levels = torch.linspace(0, 1, _TABLE_LEVELS)
    rgb = torch.stack(torch.meshgrid(levels, levels, levels, indexing="ij")).reshape(1, 3, -1, 1)
    return rgb_to_lab(rgb).reshape(3, -1).T.unsqueeze(0).contiguous()


def palette(k: int) -> torch.Tensor:
    """(k, 3) sRGB colours, darkest first: rank i of the lightness order gets colour i."""
    rank = torch.arange(k, dtype=torch.float32)
    lightness = 25 + 65 * rank / max(k - 1, 1)
    hue = rank * _GOLDEN_ANGLE  # successive ranks get far-apart hues
    lab = torch.stack([lightness, 55 * torch.cos(hue), 55 * torch.sin(hue)], dim=1)
    return lab_to_rgb(lab.T.reshape(1, 3, k, 1)).reshape(3, k).T


class ClustersSegmenter:
    """k-means colour clusters painted with a lightness-ordered palette."""

    def __init__(self, config: ClustersConfig) -> None:
        self.config = config
        self._palette_by_channel = palette(config.k).T.contiguous()  # (3, k)

    def segment(
        self,
        images: torch.Tensor,
        mask: torch.Tensor | None = None,
        state: torch.Tensor | None = None,
    ) -> Segmentation:
        """Paint each pixel of (B, 3, H, W) with its cluster's colour; state = centroids."""
        pixels = self._lab_pixels(images, self.config.blur_sigma)
        centroids = self.fit(pixels, mask, init=state)
        return Segmentation(self._painted(images, assign(pixels, centroids)), centroids)

    def paint(self, images: torch.Tensor, centroids: torch.Tensor, scale: float) -> torch.Tensor:
        """(B, 3, H, W) painted with centroids fitted on the same images `scale` times smaller
        (a larger result's segmentation: the same regions, with borders sharp at its size).

        Each pixel takes the cluster of its colour rounded to 5 bits a channel, looked up in a
        table of those 32768 colours: twice as fast as converting a megapixel to Lab, and
        about 1.5% of pixels, within a few levels of a border between two clusters, take
        the other one."""
        blurred = gaussian_blur(images.float(), self.config.blur_sigma * scale)
        table = assign(_table_lab().to(images.device).expand(len(images), -1, -1), centroids)
        step = _TABLE_LEVELS - 1
        bins = (blurred.clamp(0, 1) * step).round().long()  # (B, 3, H, W)
        index = (bins[:, 0] * _TABLE_LEVELS + bins[:, 1]) * _TABLE_LEVELS + bins[:, 2]
        return self._painted(images, table.gather(1, index.flatten(1)))

    @staticmethod
    def _lab_pixels(images: torch.Tensor, blur_sigma: float) -> torch.Tensor:
        """(B, H*W, 3) Lab pixels."""
        return rgb_to_lab(gaussian_blur(images.float(), blur_sigma)).flatten(2).transpose(1, 2)

    def _painted(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in the palette's colours, from labels (B, H*W) that index the
        lightness-ordered centroids."""
        batch, _, height, width = images.shape
        # Picked channels-first, (3, k) by index: 6x faster than palette[labels] and a transpose.
        colours = self._palette_by_channel.to(images.device).index_select(1, labels.flatten())
        painted = colours.view(3, batch, height, width).transpose(0, 1).contiguous()
        return painted.to(images.dtype)

    def fit(
        self, pixels: torch.Tensor, mask: torch.Tensor | None, init: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Centroids (B, k, 3) of Lab pixels (B, N, 3), sorted by lightness."""
        cfg = self.config
        flat_mask = None if mask is None else mask.flatten(1)
        # One generator per image, so that an image's clusters never depend on its batch.
        # With a state (video), frame i warm-starts from frame i - 1: colours stay put.
        fitted: list[torch.Tensor] = []
        for i in range(pixels.shape[0]):
            generator = torch.Generator().manual_seed(cfg.seed)
            item_mask = None if flat_mask is None else flat_mask[i : i + 1]
            samples = sample_pixels(pixels[i : i + 1], cfg.sample_pixels, generator, item_mask)
            previous = None if init is None else (fitted[-1] if fitted else init[-1:])
            fitted.append(fit_centroids(samples, cfg.k, generator, previous, cfg.iterations))
        centroids = refine(pixels, torch.cat(fitted), cfg.refine_iterations, flat_mask)
        order = centroids[..., 0].argsort(dim=1)
        return centroids.gather(1, order.unsqueeze(-1).expand(-1, -1, 3))
