"""Batched k-means (k-means++ seeding, Lloyd iterations) in torch, on CPU or CUDA.

Fitting on a few thousand sampled pixels and then assigning every pixel costs a small
fraction of clustering all pixels, for nearly the same inertia.
"""

from __future__ import annotations

import math

import torch


def sample_pixels(
    pixels: torch.Tensor, count: int, generator: torch.Generator, mask: torch.Tensor | None
) -> torch.Tensor:
    """(B, N, C) pixels -> (B, count, C) drawn uniformly (with replacement) where mask (B, N)."""
    weights = torch.ones(pixels.shape[:2]) if mask is None else mask.float().cpu()
    index = torch.multinomial(weights, count, replacement=True, generator=generator)
    index = index.to(pixels.device)
    return pixels.gather(1, index.unsqueeze(-1).expand(-1, -1, pixels.shape[-1]))


def _kmeans_plus_plus(samples: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """Greedy k-means++ seeding (as scikit-learn does it): (B, N, C) -> (B, k, C) centroids.

    Each new centroid is the best of a few candidates drawn in proportion to the squared
    distance to the nearest chosen centroid, which avoids most bad seedings.
    """
    batch, n, _ = samples.shape
    trials = 2 + int(math.log(k))
    rows = torch.arange(batch, device=samples.device)
    first = torch.randint(n, (batch,), generator=generator).to(samples.device)
    chosen = [samples[rows, first]]  # k x (B, C)
    nearest = (samples - chosen[0].unsqueeze(1)).square().sum(-1)  # (B, N)
    for _ in range(1, k):
        # A tiny floor keeps sampling defined for flat images, where every distance is 0.
        weights = (nearest + 1e-9).cpu()
        candidates = torch.multinomial(weights, trials, replacement=True, generator=generator)
        candidates = candidates.to(samples.device)  # (B, T)
        points = samples.gather(1, candidates.unsqueeze(-1).expand(-1, -1, samples.shape[-1]))
        distance = torch.cdist(points, samples).square()  # (B, T, N)
        potential = torch.minimum(nearest.unsqueeze(1), distance)
        best = potential.sum(-1).argmin(1)  # (B,)
        chosen.append(points[rows, best])
        nearest = potential[rows, best]
    return torch.stack(chosen, dim=1)


def assign(pixels: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Index (B, N) of the nearest centroid (B, k, C) for every pixel (B, N, C).

    |c|^2 - 2 c.p orders the centroids as the distance does (|p|^2 is the same for all of
    them), in one batched matrix product laid out (B, k, N): 8x faster than (B, N, k) when
    the pixels are a channels-first image's transposed view, as `segment` passes them.
    """
    norms = centroids.square().sum(-1).unsqueeze(-1)  # (B, k, 1)
    return first_min(torch.baddbmm(norms, centroids, pixels.transpose(1, 2), alpha=-2))


def first_min(scores: torch.Tensor) -> torch.Tensor:
    """argmin over dim 1 of (B, k, N) -> (B, N), the first index on ties.

    Torch reduces a short middle dimension slowly (9 ms for k = 7 and 65536 pixels on one
    core); these k - 1 elementwise steps take 0.4 ms. The index of the first minimum is the
    number of leading rows that are all above the minimum.
    """
    least = scores.amin(1)
    above = scores[:, 0] > least
    index = above.to(torch.uint8)  # k < 256
    for row in range(1, scores.shape[1] - 1):
        above &= scores[:, row] > least
        index += above
    return index.long()


def _update(
    samples: torch.Tensor,
    labels: torch.Tensor,
    centroids: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """One Lloyd step: each centroid moves to the (weighted) mean of its members.

    Empty clusters keep their centroid; weights (B, N) of 0 leave a sample out.
    """
    batch, k, channels = centroids.shape
    if weights is None:
        weights = torch.ones(labels.shape, device=samples.device, dtype=samples.dtype)
    # Summed channels-first, along the pixels' contiguous axis: 2.4x faster than (B, N, C).
    by_channel = samples.transpose(1, 2) * weights.unsqueeze(1)  # (B, C, N)
    index = labels.unsqueeze(1).expand(-1, channels, -1)
    sums = by_channel.new_zeros(batch, channels, k).scatter_add_(2, index, by_channel)
    counts = weights.new_zeros(batch, k).scatter_add_(1, labels, weights)
    mean = sums.transpose(1, 2) / counts.clamp(min=1e-9).unsqueeze(-1)
    return torch.where(counts.unsqueeze(-1) > 0, mean, centroids)


def fit_centroids(
    samples: torch.Tensor,
    k: int,
    generator: torch.Generator,
    init: torch.Tensor | None = None,
    iterations: int = 20,
    tolerance: float = 1e-3,
) -> torch.Tensor:
    """Fit k centroids (B, k, C) to samples (B, N, C), seeded by k-means++ or warm-started."""
    centroids = _kmeans_plus_plus(samples, k, generator) if init is None else init.clone()
    for _ in range(iterations):
        moved = _update(samples, assign(samples, centroids), centroids)
        shift = (moved - centroids).abs().amax()
        centroids = moved
        if shift.item() < tolerance:
            break
    return centroids


def refine(
    pixels: torch.Tensor, centroids: torch.Tensor, iterations: int, mask: torch.Tensor | None
) -> torch.Tensor:
    """Lloyd steps on every pixel (B, N, C) where mask (B, N): fixes what sampling missed."""
    weights = None if mask is None else mask.to(pixels.dtype)
    for _ in range(iterations):
        centroids = _update(pixels, assign(pixels, centroids), centroids, weights)
    return centroids


def inertia(pixels: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Sum of squared distances (B,) from each pixel (B, N, C) to its nearest centroid."""
    return torch.cdist(pixels, centroids).amin(-1).square().sum(-1)
