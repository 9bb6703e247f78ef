"""Figures of an interpretation that need no ground truth: grid, colour and sharpness.

- grid index: how much energy sits at the periods 2 and 4 of the spectrum, the signature
  of transposed-convolution checkerboards; natural photos at 256 px score about 1.9.
- colour distance: chi-square distance of an image's HSV histogram to the mean histogram
  of the training photos; an interpretation should be closer than the photo it was given.
- sharpness: the spread of the Laplacian, relative to the training photos' (a blur scores
  near 0, a grid far above 1).
- colourfulness: Hasler and Suesstrunk's colourfulness, relative to the training photos'
  (greys score 0): the colour distance can be low for a wash of the photos' mean hues, this
  figure only for vivid ones.

The sharpness and the colourfulness are per pixel, so a speckle of colour noise counts as
detail and as colour in both. Two figures do not count it:
- chroma grain: the spread of the opponent channels' high-pass (each channel minus its
  Gaussian blur, sigma 2), in 0..255 levels; photos score about 7, a per-pixel speckle of
  colour several times that.
- perceived colourfulness: the colourfulness after a 4x box downsample, the colour of regions
  rather than of pixels.
Both are measured at a long side of 256 px (Lanczos), in absolute units.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

HUE_BINS, SATURATION_BINS = 18, 8
SHARPNESS_SIDE = 256  # long side at which sharpness, chroma grain and perceived colour are read
GRAIN_SIGMA = 2.0
PERCEIVED_DOWNSAMPLE = 4
DETAIL_MARGIN = 4
_GRID_PERIODS = (2, 4)


def _grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64)


def _peak_ratio(spectrum: np.ndarray, row: int, col: int) -> float:
    """Largest magnitude in the 3x3 box around a bin over the median of its 9x9 ring."""
    n = spectrum.shape[0]
    offsets = np.arange(-4, 5)
    box = spectrum[np.ix_((row + offsets) % n, (col + offsets) % n)]
    centre = box[3:6, 3:6].max()
    ring = np.delete(box.ravel(), [r * 9 + c for r in range(3, 6) for c in range(3, 6)])
    return float(centre / max(float(np.median(ring)), 1e-12))


def grid_index(image: Image.Image) -> float:
    """Median of the three largest peak ratios at periods 2 and 4 (see the module doc)."""
    grey = _grey(image)
    n = min(grey.shape) // 8 * 8
    if n < 16:
        raise ValueError(f"image must be at least 16 px on its short side, got {min(grey.shape)}")
    top, left = (grey.shape[0] - n) // 2, (grey.shape[1] - n) // 2
    square = grey[top : top + n, left : left + n]
    window = np.outer(np.hanning(n), np.hanning(n))
    spectrum = np.abs(np.fft.fft2((square - square.mean()) * window))
    ratios = [
        _peak_ratio(spectrum, row, col)
        for p in _GRID_PERIODS
        for row, col in ((n // p, 0), (0, n // p), (n // p, n // p))
    ]
    return float(np.median(sorted(ratios)[-3:]))


def hsv_histogram(image: Image.Image) -> np.ndarray:
    """(18 hue x 8 saturation) histogram of Pillow's HSV, normalised to sum 1."""
    hsv = np.asarray(image.convert("RGB").convert("HSV"), dtype=np.int64)
    hue = hsv[..., 0] * HUE_BINS // 256
    saturation = hsv[..., 1] * SATURATION_BINS // 256
    counts = np.bincount(
        (hue * SATURATION_BINS + saturation).ravel(), minlength=HUE_BINS * SATURATION_BINS
    )
    return counts.reshape(HUE_BINS, SATURATION_BINS) / counts.sum()


def chi_square(a: np.ndarray, b: np.ndarray) -> float:
    """0.5 * sum (a - b)^2 / (a + b) over the bins where either is non-zero."""
    total = a + b
    used = total > 0
    return float(0.5 * np.sum((a[used] - b[used]) ** 2 / total[used]))


def _at_figure_side(image: Image.Image, resample: Image.Resampling) -> Image.Image:
    """The image in RGB, resized so that its long side is SHARPNESS_SIDE."""
    scale = SHARPNESS_SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.convert("RGB").resize(size, resample)


def laplacian_spread(image: Image.Image) -> float:
    """Standard deviation of the greyscale Laplacian at a long side of 256 px."""
    resized = _at_figure_side(image, Image.Resampling.BICUBIC)
    return float(ndimage.laplace(_grey(resized)).std())


def _opponent(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) RGB on 0..255 -> the opponent channels R - G and (R + G) / 2 - B."""
    return rgb[..., 0] - rgb[..., 1], (rgb[..., 0] + rgb[..., 1]) / 2 - rgb[..., 2]


def colourfulness(image: Image.Image) -> float:
    """Hasler and Suesstrunk (2003): spread plus 0.3 x mean of the opponent channels
    R - G and (R + G) / 2 - B, on 0..255 values; greys score 0, vivid photos 50 and above."""
    red_green, yellow_blue = _opponent(np.asarray(image.convert("RGB"), dtype=np.float64))
    spread = np.hypot(red_green.std(), yellow_blue.std())
    mean = np.hypot(red_green.mean(), yellow_blue.mean())
    return float(spread + 0.3 * mean)


def chroma_grain(image: Image.Image, own_size: bool = False) -> float:
    """sqrt(mean(hp_rg^2 + hp_yb^2)) at a long side of 256 px (Lanczos; or at the image's own
    size), where hp is an opponent channel minus its Gaussian blur (sigma 2): colour that
    changes from pixel to pixel. Photos score about 7 at 256 px, 3 at 768; grey images 0."""
    shown = image.convert("RGB") if own_size else _at_figure_side(image, Image.Resampling.LANCZOS)
    rgb = np.asarray(shown, dtype=np.float64)
    energy = [
        np.mean((channel - ndimage.gaussian_filter(channel, GRAIN_SIGMA)) ** 2)
        for channel in _opponent(rgb)
    ]
    return float(np.sqrt(sum(energy)))


def detail(image: Image.Image) -> float:
    """RMS of the Laplacian of the luminance at the image's own size, its 4 px borders left
    out: how much fine texture a picture has where it is looked at (issue 36)."""
    margin = DETAIL_MARGIN
    laplacian = ndimage.laplace(_grey(image))[margin:-margin, margin:-margin]
    return float(np.sqrt(np.mean(laplacian**2)))


def perceived_colourfulness(image: Image.Image) -> float:
    """Colourfulness of the image at a long side of 256 px (Lanczos), box-downsampled 4x:
    the colour of regions, which a per-pixel speckle does not raise."""
    resized = _at_figure_side(image, Image.Resampling.LANCZOS)
    factor = PERCEIVED_DOWNSAMPLE
    small = (max(1, resized.width // factor), max(1, resized.height // factor))
    return colourfulness(resized.resize(small, Image.Resampling.BOX))


@dataclass(frozen=True)
class PhotoReference:
    """What the training photos look like: mean colour histogram, sharpness, colourfulness."""

    histogram: np.ndarray
    sharpness: float
    colourfulness: float

    @classmethod
    def of(cls, photos: Iterable[Image.Image]) -> PhotoReference:
        histograms, spreads, vividness = [], [], []
        for photo in photos:
            histograms.append(hsv_histogram(photo))
            spreads.append(laplacian_spread(photo))
            vividness.append(colourfulness(photo))
        if not histograms:
            raise ValueError("PhotoReference needs at least one photo")
        return cls(np.mean(histograms, axis=0), float(np.mean(spreads)), float(np.mean(vividness)))

    def colour_distance(self, image: Image.Image) -> float:
        return chi_square(hsv_histogram(image), self.histogram)

    def colour_ratio(self, interpretation: Image.Image, photo: Image.Image) -> float:
        """Colour distance of the interpretation over that of the photo it was made from."""
        return self.colour_distance(interpretation) / max(self.colour_distance(photo), 1e-12)

    def relative_sharpness(self, image: Image.Image) -> float:
        return laplacian_spread(image) / self.sharpness

    def relative_colourfulness(self, image: Image.Image) -> float:
        return colourfulness(image) / max(self.colourfulness, 1e-12)


@dataclass(frozen=True)
class InterpretationFigures:
    """The figures of one interpretation."""

    grid_index: float
    colour_ratio: float
    sharpness: float
    colourfulness: float
    chroma_grain: float
    perceived_colourfulness: float


def interpretation_figures(
    reference: PhotoReference, photo: Image.Image, interpretation: Image.Image
) -> InterpretationFigures:
    """The figures of one interpretation (see the module doc)."""
    return InterpretationFigures(
        grid_index(interpretation),
        reference.colour_ratio(interpretation, photo),
        reference.relative_sharpness(interpretation),
        reference.relative_colourfulness(interpretation),
        chroma_grain(interpretation),
        perceived_colourfulness(interpretation),
    )
