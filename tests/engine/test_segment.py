"""Segmenters: determinism, palette order, k, edges, masks, colour space."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from engine.segment import (
    ClustersConfig,
    ClustersSegmenter,
    EdgesConfig,
    EdgesSegmenter,
    segmenter_config_from_dict,
)
from engine.segment.clusters import palette
from engine.segment.color import lab_to_rgb, rgb_to_lab
from engine.segment.kmeans import first_min, inertia


def blobs(k: int = 5, size: int = 48, seed: int = 0) -> torch.Tensor:
    """(1, 3, size, size) image made of k flat, well separated colours in vertical stripes."""
    rng = np.random.default_rng(seed)
    colours = torch.tensor(rng.uniform(0, 1, (k, 3)), dtype=torch.float32)
    colours[:, 0] = torch.linspace(0.05, 0.95, k)  # keep them far apart
    stripe = torch.arange(size) * k // size
    return colours[stripe].T.reshape(3, 1, size).expand(3, size, size).unsqueeze(0).clone()


def test_palette_is_distinct_and_ordered_by_lightness() -> None:
    colours = palette(7)
    assert colours.shape == (7, 3)
    lightness = rgb_to_lab(colours.T.reshape(1, 3, 7, 1))[0, 0, :, 0]
    assert torch.all(lightness[1:] > lightness[:-1])
    assert torch.cdist(colours, colours).add(torch.eye(7)).min() > 0.1


def test_same_scene_same_colours_under_pixel_permutation() -> None:
    image = blobs(5)
    segmenter = ClustersSegmenter(ClustersConfig(k=5))
    flat = image.flatten(2)
    perm = torch.randperm(flat.shape[-1], generator=torch.Generator().manual_seed(1))
    shuffled = flat[..., perm].reshape(image.shape)
    direct = segmenter.segment(image).images.flatten(2)[..., perm]
    via_shuffle = segmenter.segment(shuffled).images.flatten(2)
    assert torch.equal(direct, via_shuffle)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_scene_same_colours_across_seeds(seed: int) -> None:
    image = blobs(6)
    reference = ClustersSegmenter(ClustersConfig(k=6, seed=0)).segment(image).images
    other = ClustersSegmenter(ClustersConfig(k=6, seed=seed)).segment(image).images
    assert torch.equal(reference, other)


@pytest.mark.parametrize("k", [2, 7, 12])
def test_k_is_honoured(k: int) -> None:
    gradient = torch.linspace(0, 1, 64)
    image = torch.stack(
        [gradient.expand(64, 64), gradient.expand(64, 64).T, torch.rand(64, 64) * 0.2]
    ).unsqueeze(0)
    out = ClustersSegmenter(ClustersConfig(k=k)).segment(image).images
    colours = torch.unique(out.flatten(2)[0].T, dim=0)
    assert len(colours) == k
    assert torch.allclose(colours, torch.unique(palette(k), dim=0), atol=1e-6)


def test_subsampled_kmeans_is_close_to_full_kmeans(photo) -> None:
    image = torch.from_numpy(np.array(photo(96, 64))).permute(2, 0, 1).float() / 255
    lab = rgb_to_lab(image.unsqueeze(0)).flatten(2).transpose(1, 2)
    ours = ClustersSegmenter(ClustersConfig(k=7)).segment(image.unsqueeze(0)).state
    full = KMeans(7, n_init=4, random_state=0).fit(lab[0].numpy())
    assert inertia(lab, ours).item() <= full.inertia_ * 1.02


def test_mask_keeps_padding_out_of_the_statistics() -> None:
    image = blobs(3, size=32)
    padded = torch.zeros(1, 3, 32, 64)
    padded[..., :32] = image
    padded[..., 32:] = torch.tensor([1.0, 0.0, 1.0]).view(1, 3, 1, 1)  # a fourth colour
    mask = torch.zeros(1, 1, 32, 64, dtype=torch.bool)
    mask[..., :32] = True
    segmenter = ClustersSegmenter(ClustersConfig(k=3))
    masked = segmenter.segment(padded, mask).images[..., :32]
    assert torch.equal(masked, segmenter.segment(image).images)


def test_warm_start_state_is_returned_and_accepted() -> None:
    segmenter = ClustersSegmenter(ClustersConfig(k=4))
    first = segmenter.segment(blobs(4))
    assert first.state is not None and first.state.shape == (1, 4, 3)
    again = segmenter.segment(blobs(4).expand(3, -1, -1, -1), state=first.state)
    assert torch.equal(again.images[0], first.images[0])


def square(size: int = 64, low: int = 16, high: int = 48) -> torch.Tensor:
    image = torch.full((1, 3, size, size), 0.3)
    image[..., low:high, low:high] = 0.6  # low contrast: ImageAdjust must stretch it
    return image


def test_edges_trace_the_outline_of_a_square() -> None:
    edges = EdgesSegmenter(EdgesConfig()).segment(square()).images[0, 0]
    ys, xs = torch.nonzero(edges, as_tuple=True)
    assert len(ys) > 0
    distance_to_outline = torch.minimum(
        torch.minimum((ys - 16).abs(), (ys - 47).abs()),
        torch.minimum((xs - 16).abs(), (xs - 47).abs()),
    )
    assert distance_to_outline.max() <= 2  # nothing far from the outline
    assert edges[20:44, 20:44].sum() == 0 and edges[:10].sum() == 0
    # The outline is traced almost all the way round (corners may be cut by smoothing).
    for side in (
        edges[14:19, 20:44].amax(0),
        edges[45:50, 20:44].amax(0),
        edges[20:44, 14:19].amax(1),
    ):
        assert side.float().mean() > 0.9


def test_weak_edges_stay_only_where_they_join_a_strong_one_in_the_same_image() -> None:
    magnitude = torch.zeros(2, 1, 12, 40)
    magnitude[0, 0, 3, 2:30] = 0.1  # weak, a long line...
    magnitude[0, 0, 4, 30] = 1.0  # ...touching a strong pixel diagonally: kept, however long
    magnitude[0, 0, 9, 5:15] = 0.1  # weak, alone: dropped
    magnitude[1, 0, 3, 2:30] = 0.1  # the same weak line in the next image, whose only
    magnitude[1, 0, 11, 39] = 1.0  # strong pixel is far away: dropped
    edges = EdgesSegmenter(EdgesConfig(low=0.08, high=0.2))._hysteresis(magnitude)
    assert edges[0, 0, 3, 2:30].all() and edges[0, 0, 4, 30] == 1
    assert edges[0, 0, 9].sum() == 0
    assert edges[1, 0, 3].sum() == 0 and edges[1, 0, 11, 39] == 1
    assert edges.sum() == 28 + 1 + 1


def test_edges_configs_from_before_exact_hysteresis_still_load() -> None:
    saved = {"kind": "edges", "sigma": 1.5, "low": 0.08, "high": 0.2, "max_hysteresis_steps": 64}
    assert segmenter_config_from_dict(saved) == EdgesConfig()


def test_edges_are_white_on_black_rgb() -> None:
    out = EdgesSegmenter(EdgesConfig()).segment(square()).images
    assert out.shape == (1, 3, 64, 64)
    assert set(torch.unique(out).tolist()) == {0.0, 1.0}
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])


def test_flat_image_has_no_edges() -> None:
    flat = torch.full((2, 3, 32, 32), 0.5)
    assert EdgesSegmenter(EdgesConfig()).segment(flat).images.sum() == 0


def test_edges_run_on_one_thread_and_give_torch_its_threads_back() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        many = EdgesSegmenter(EdgesConfig()).segment(square()).images
        assert torch.get_num_threads() == 2  # restored after the one-thread section
        torch.set_num_threads(1)
        assert torch.equal(EdgesSegmenter(EdgesConfig()).segment(square()).images, many)
    finally:
        torch.set_num_threads(before)


def test_lab_round_trip_and_reference_values() -> None:
    rgb = torch.rand(2, 3, 8, 8)
    assert torch.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-4)
    white = rgb_to_lab(torch.ones(1, 3, 1, 1)).flatten()
    assert torch.allclose(white, torch.tensor([100.0, 0.0, 0.0]), atol=0.05)
    red = rgb_to_lab(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)).flatten()
    assert torch.allclose(red, torch.tensor([53.24, 80.09, 67.20]), atol=0.1)


def test_configs_round_trip_and_validate() -> None:
    for config in (ClustersConfig(k=5, blur_sigma=1.0), EdgesConfig(sigma=2.0)):
        assert segmenter_config_from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="k must be between"):
        ClustersConfig(k=1)
    with pytest.raises(ValueError, match="segmenter kind"):
        segmenter_config_from_dict({"kind": "watershed"})
    with pytest.raises(ValueError, match="low <= high"):
        EdgesConfig(low=0.5, high=0.2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu() -> None:
    image = blobs(5)
    segmenter = ClustersSegmenter(ClustersConfig(k=5))
    cpu = segmenter.segment(image).images
    assert torch.equal(segmenter.segment(image.cuda()).images.cpu(), cpu)


def test_first_min_is_argmin_with_the_first_index_on_ties() -> None:
    generator = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 4, (2, 7, 500), generator=generator).float()  # many ties
    assert torch.equal(first_min(scores), scores.argmin(1))
    assert first_min(torch.zeros(1, 3, 5)).eq(0).all()
    assert torch.equal(first_min(torch.tensor([[[2.0], [1.0]]])), torch.tensor([[1]]))
