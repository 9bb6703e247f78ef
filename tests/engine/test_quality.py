"""Figures of an interpretation: grid index, colour distance, sharpness, warping error."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter
from skimage import data as samples

from engine.training.quality import (
    PhotoReference,
    chi_square,
    chroma_grain,
    colourfulness,
    detail,
    grid_index,
    hsv_histogram,
    perceived_colourfulness,
)
from engine.video.warping import warping_error


def photo(name: str = "coffee", size: int = 256) -> Image.Image:
    image = Image.fromarray(getattr(samples, name)()).convert("RGB")
    return image.resize((size, size * image.height // image.width), Image.Resampling.LANCZOS)


def with_checkerboard(image: Image.Image, amplitude: float = 6.0) -> Image.Image:
    """Add a 2x2 tile pattern, as uneven overlap of stride-2 transposed convolutions leaves."""
    pixels = np.asarray(image, dtype=np.float32)
    odd_rows, odd_cols = np.indices(pixels.shape[:2]) % 2
    board = amplitude * (odd_rows + odd_cols + 2 * odd_rows * odd_cols - 1)[..., None]
    return Image.fromarray(np.clip(pixels + board, 0, 255).astype(np.uint8))


def test_grid_index_is_low_for_photos_and_high_for_checkerboards() -> None:
    for name in ("coffee", "chelsea", "astronaut"):
        assert grid_index(photo(name)) < 2.5
        assert grid_index(with_checkerboard(photo(name))) > 10
    with pytest.raises(ValueError, match="16 px"):
        grid_index(Image.new("RGB", (8, 8)))


def test_colour_distance_is_closer_for_a_photo_like_the_reference() -> None:
    reference = PhotoReference.of([photo("coffee"), photo("chelsea")])
    histogram = hsv_histogram(photo("coffee"))
    assert histogram.shape == (18, 8) and histogram.sum() == pytest.approx(1.0)
    assert chi_square(histogram, histogram) == 0.0
    grey = photo("astronaut").convert("L").convert("RGB")
    assert reference.colour_ratio(photo("coffee"), grey) < 0.8
    assert reference.colour_ratio(grey, photo("coffee")) > 1.25


def test_sharpness_falls_for_a_blur() -> None:
    reference = PhotoReference.of([photo("coffee")])
    assert reference.relative_sharpness(photo("coffee")) == pytest.approx(1.0)
    blurred = photo("coffee").filter(ImageFilter.GaussianBlur(3))
    assert reference.relative_sharpness(blurred) < 0.3


def test_colourfulness_is_zero_for_greys_and_rises_with_saturation() -> None:
    coffee = photo("coffee")
    assert colourfulness(coffee.convert("L").convert("RGB")) == pytest.approx(0.0)
    washed = Image.blend(coffee, coffee.convert("L").convert("RGB"), 0.6)
    assert colourfulness(washed) < 0.5 * colourfulness(coffee)
    red_and_blue = Image.new("RGB", (64, 64), (230, 30, 40))
    red_and_blue.paste((30, 60, 230), (0, 0, 32, 64))
    assert colourfulness(red_and_blue) > colourfulness(coffee)
    reference = PhotoReference.of([coffee])
    assert reference.relative_colourfulness(coffee) == pytest.approx(1.0)
    assert reference.relative_colourfulness(washed) == pytest.approx(0.4, abs=0.05)


def with_colour_speckle(image: Image.Image, amplitude: float = 25.0) -> Image.Image:
    """Independent noise on every pixel and channel: a rainbow speckle."""
    pixels = np.asarray(image, dtype=np.float64)
    noise = np.random.default_rng(0).normal(0, amplitude, pixels.shape)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def test_chroma_grain_counts_colour_speckle_not_lightness_texture() -> None:
    coffee = photo("coffee")
    assert chroma_grain(coffee.convert("L").convert("RGB")) == pytest.approx(0.0)
    assert 3 < chroma_grain(coffee) < 15  # photographs: about 7
    assert chroma_grain(with_colour_speckle(coffee)) > 3 * chroma_grain(coffee)
    # The same noise in all three channels is texture in the light and dark: no chroma grain.
    grey_noise = np.random.default_rng(0).normal(0, 25, (coffee.height, coffee.width, 1))
    textured = np.clip(np.asarray(coffee, dtype=np.float64) + grey_noise, 0, 255)
    textured_image = Image.fromarray(textured.astype(np.uint8))
    assert chroma_grain(textured_image) < chroma_grain(coffee) + 3
    # Read at a long side of 256 px, whatever the size it comes at.
    assert chroma_grain(photo("coffee", 512)) == pytest.approx(chroma_grain(coffee), rel=0.1)


def test_chroma_grain_at_own_size_reads_a_large_picture_as_it_is_seen() -> None:
    large = photo("coffee", 600)
    assert chroma_grain(large, own_size=True) < 0.8 * chroma_grain(large)  # finer: less speckle
    assert chroma_grain(photo("coffee"), own_size=True) == pytest.approx(
        chroma_grain(photo("coffee")), rel=0.01
    )


def test_detail_is_fine_texture_at_the_pictures_own_size() -> None:
    coffee = photo("coffee", 600)
    assert detail(Image.new("RGB", (64, 48), (90, 140, 60))) == 0.0
    enlarged = photo("coffee", 150).resize(coffee.size, Image.Resampling.BICUBIC)
    assert detail(enlarged) < 0.5 * detail(coffee)  # enlarging is a blur: little detail
    noisy = np.random.default_rng(0).normal(0, 10, (coffee.height, coffee.width, 1))
    grained = np.clip(np.asarray(coffee, dtype=np.float64) + noisy, 0, 255).astype(np.uint8)
    assert detail(Image.fromarray(grained)) > detail(coffee)
    border = np.asarray(coffee).copy()
    border[:3] = 0  # what lies within 4 px of the border is left out
    assert detail(Image.fromarray(border)) == pytest.approx(detail(coffee))


def test_perceived_colourfulness_is_the_colour_of_regions() -> None:
    grey = photo("coffee").convert("L").convert("RGB")
    speckled = with_colour_speckle(grey)
    # Per pixel, a speckle on a grey picture looks colourful; region by region it is still grey.
    assert colourfulness(speckled) > 30
    assert perceived_colourfulness(speckled) < 0.3 * colourfulness(speckled)
    coffee = photo("coffee")
    assert perceived_colourfulness(coffee) == pytest.approx(colourfulness(coffee), rel=0.15)


def test_warping_error_rewards_outputs_that_move_with_the_input() -> None:
    scene = np.asarray(photo("coffee", 400))
    inputs = [scene[40:136, 10 + 3 * i : 138 + 3 * i] for i in range(3)]
    rng = np.random.default_rng(0)
    flickering = [np.clip(f + rng.normal(0, 30, f.shape), 0, 255).astype(np.uint8) for f in inputs]
    steady = warping_error(inputs, inputs)
    assert steady < 0.005
    assert warping_error(inputs, flickering) > 5 * steady
    with pytest.raises(ValueError, match="two"):
        warping_error(inputs[:1], inputs[:1])
