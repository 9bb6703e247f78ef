"""Pad images of different sizes into one batch the U-Net accepts, and crop them back."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def same_shape_batches(
    sizes: Sequence[tuple[int, int]], multiple: int, batch_size: int
) -> list[list[int]]:
    """Indices of (h, w) images grouped by the shape `pad_batch` gives each alone, at most
    `batch_size` to a group, in order of first appearance.

    An image padded further than it needs to be is seen differently by the generator (its
    instance norms' statistics cover the padding), so a batch holds only images of one shape:
    each gets the interpretation it would get alone.
    """
    groups: dict[tuple[int, int], list[list[int]]] = {}
    for index, (h, w) in enumerate(sizes):
        batches = groups.setdefault((round_up(h, multiple), round_up(w, multiple)), [[]])
        if len(batches[-1]) == batch_size:
            batches.append([])
        batches[-1].append(index)
    return [batch for batches in groups.values() for batch in batches]


def pad_batch(images: Sequence[torch.Tensor], multiple: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, h_i, w_i) images -> (B, 3, H, W) batch and (B, 1, H, W) mask of real pixels.

    H and W are the largest sides rounded up to `multiple`. Borders are replicated rather
    than zero-filled, so the padding looks like a continuation of the picture.
    """
    height = round_up(max(image.shape[1] for image in images), multiple)
    width = round_up(max(image.shape[2] for image in images), multiple)
    padded, masks = [], []
    for image in images:
        pad_h, pad_w = height - image.shape[1], width - image.shape[2]
        box = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
        padded.append(F.pad(image.unsqueeze(0), box, mode="replicate"))
        mask = torch.ones(1, 1, *image.shape[1:], dtype=torch.bool, device=image.device)
        masks.append(F.pad(mask, box, value=False))
    return torch.cat(padded), torch.cat(masks)


def crop_batch(batch: torch.Tensor, sizes: Sequence[tuple[int, int]]) -> list[torch.Tensor]:
    """Undo `pad_batch`: the centred (h, w) region of each (3, H, W) item."""
    height, width = batch.shape[-2:]
    crops = []
    for item, (h, w) in zip(batch, sizes, strict=True):
        top, left = (height - h) // 2, (width - w) // 2
        crops.append(item[:, top : top + h, left : left + w])
    return crops
