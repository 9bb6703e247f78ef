"""Batched k-means (k-means++ seeding, Lloyd iterations) in torch, on CPU or CUDA.

Fitting on a few thousand sampled pixels and then assigning every pixel costs a small
fraction of clustering all pixels, for nearly the same inertia.
"""

from __future__ import annotations

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
    """k-means++ seeding: (B, N, C) -> (B, k, C) centroids."""
    batch, n, _ = samples.shape
    first = torch.randint(n, (batch,), generator=generator).to(samples.device)
    chosen = [samples[torch.arange(batch, device=samples.device), first]]  # k x (B, C)
    nearest = torch.full((batch, n), float("inf"), device=samples.device)
    for _ in range(1, k):
        distance = (samples - chosen[-1].unsqueeze(1)).square().sum(-1)
        nearest = torch.minimum(nearest, distance)
        # A tiny floor keeps sampling defined for flat images, where every distance is 0.
        weights = (nearest + 1e-9).cpu()
        index = torch.multinomial(weights, 1, generator=generator).squeeze(1).to(samples.device)
        chosen.append(samples[torch.arange(batch, device=samples.device), index])
    return torch.stack(chosen, dim=1)


def assign(pixels: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Index (B, N) of the nearest centroid (B, k, C) for every pixel (B, N, C)."""
    return torch.cdist(pixels, centroids).argmin(-1)


def _update(samples: torch.Tensor, labels: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """One Lloyd step: each centroid moves to the mean of its members; empty ones stay."""
    channels = samples.shape[-1]
    sums = torch.zeros_like(centroids).scatter_add_(
        1, labels.unsqueeze(-1).expand(-1, -1, channels), samples
    )
    counts = torch.zeros(centroids.shape[:2], device=samples.device, dtype=samples.dtype)
    counts.scatter_add_(1, labels, torch.ones_like(labels, dtype=samples.dtype))
    return torch.where(
        counts.unsqueeze(-1) > 0, sums / counts.clamp(min=1).unsqueeze(-1), centroids
    )


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


def inertia(pixels: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Sum of squared distances (B,) from each pixel (B, N, C) to its nearest centroid."""
    return torch.cdist(pixels, centroids).amin(-1).square().sum(-1)
