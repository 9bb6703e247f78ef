"""Temporal consistency of a translated clip: the warping error of Lai et al. (ECCV 2018).

For consecutive frames t-1 and t, optical flow between the *input* frames (TV-L1) says
where each pixel of frame t was in frame t-1; output t-1 is warped onto output t along it,
and the mean squared difference is taken over the pixels whose flow is consistent forward
and backward (the others are occluded or unreliable). Lower is steadier; a perfectly
temporally consistent translation scores as low as the flow is accurate.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from skimage.color import rgb2gray
from skimage.registration import optical_flow_tvl1
from skimage.transform import warp


def _grid(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    return rows.astype(np.float64), cols.astype(np.float64)


def _warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample `image` at (row + flow[0], col + flow[1]); (H, W) or (H, W, C)."""
    rows, cols = _grid(image.shape)
    coords = np.stack([rows + flow[0], cols + flow[1]])
    if image.ndim == 2:
        return warp(image, coords, mode="edge", order=1)
    return np.stack(
        [warp(image[..., c], coords, mode="edge", order=1) for c in range(image.shape[2])], -1
    )


def consistent_mask(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Pixels of frame t whose flow to t-1 and back returns home (Sundaram et al. 2010)."""
    forward_there = np.stack([_warp(forward[i], backward) for i in range(2)])
    round_trip = backward + forward_there
    bound = 0.01 * ((backward**2).sum(0) + (forward_there**2).sum(0)) + 0.5
    return (round_trip**2).sum(0) < bound


def pair_warping_error(
    previous_input: np.ndarray,
    current_input: np.ndarray,
    previous_output: np.ndarray,
    current_output: np.ndarray,
) -> float:
    """Masked mean squared difference (RGB in [0, 1]) of output t and warped output t-1."""
    previous_grey, current_grey = rgb2gray(previous_input), rgb2gray(current_input)
    backward = optical_flow_tvl1(current_grey, previous_grey)  # t -> t-1
    forward = optical_flow_tvl1(previous_grey, current_grey)  # t-1 -> t
    mask = consistent_mask(backward, forward)
    if not mask.any():
        return 0.0
    warped = _warp(previous_output, backward)
    squared = ((current_output - warped) ** 2).sum(-1)
    return float(squared[mask].mean())


def warping_error(inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> float:
    """Mean over consecutive pairs; frames (H, W, 3) uint8 or float in [0, 1]."""
    if len(inputs) != len(outputs) or len(inputs) < 2:
        raise ValueError("need at least two input frames and as many output frames")

    def as_float(frame: np.ndarray) -> np.ndarray:
        return frame.astype(np.float64) / 255 if frame.dtype == np.uint8 else frame

    pairs = zip(itertools.pairwise(inputs), itertools.pairwise(outputs), strict=True)
    return float(
        np.mean(
            [
                pair_warping_error(as_float(a), as_float(b), as_float(c), as_float(d))
                for (a, b), (c, d) in pairs
            ]
        )
    )
