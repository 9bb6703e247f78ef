"""Decode untrusted image bytes into plain 8-bit RGB, refusing bombs and non-images."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageCms, ImageOps

from engine.errors import InputError

log = logging.getLogger(__name__)

# Only plain raster formats: PIL's others include EPS (runs Ghostscript) and rarely fuzzed codecs.
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")  # JPEG includes MPO
_WHITE = (255, 255, 255, 255)
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


@dataclass(frozen=True)
class ImageLimits:
    """Caps applied before decoding: encoded size and declared pixel count."""

    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000

    def __post_init__(self) -> None:
        if self.max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {self.max_bytes}")
        if self.max_pixels <= 0:
            raise ValueError(f"max_pixels must be positive, got {self.max_pixels}")


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


def _check_byte_count(size: int, limits: ImageLimits) -> None:
    if size == 0:
        raise InputError("empty file")
    if size > limits.max_bytes:
        raise InputError(f"file too large ({_mib(size)}, limit {_mib(limits.max_bytes)})")


def decode_image(data: bytes, limits: ImageLimits = ImageLimits()) -> Image.Image:
    """Decode untrusted bytes into an RGB image (mode 'RGB', 8-bit)."""
    _check_byte_count(len(data), limits)
    with _opened(io.BytesIO(data), limits) as image:
        _load(image)
        return _to_rgb(_orient(image))


def read_image(path: Path, limits: ImageLimits = ImageLimits()) -> Image.Image:
    """Read and decode an image file, checking its size before reading it whole."""
    try:
        _check_byte_count(path.stat().st_size, limits)
        with path.open("rb") as f:
            data = f.read(limits.max_bytes + 1)  # the file may have grown since stat()
    except OSError as exc:
        raise _unreadable(exc) from exc
    return decode_image(data, limits)


def check_image_file(path: Path, limits: ImageLimits = ImageLimits()) -> None:
    """Refuse a file that is no image within the limits, by its size and header alone
    (nothing decoded: a file truncated further on is found when it is decoded)."""
    try:
        _check_byte_count(path.stat().st_size, limits)
        with path.open("rb") as f, _opened(f, limits):
            pass
    except OSError as exc:
        raise _unreadable(exc) from exc


@contextlib.contextmanager
def _opened(source: IO[bytes], limits: ImageLimits) -> Iterator[Image.Image]:
    """The image of an untrusted file, its pixel count checked; whatever PIL raises, there
    or in the caller's block, becomes an InputError that says why."""
    # PIL warns (and past 2x raises) on huge images; both must end up as InputError, and
    # the global MAX_IMAGE_PIXELS stays untouched.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(source, formats=ALLOWED_FORMATS) as image:
                _check_pixels(image.size, limits)
                yield image
        except InputError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputError("image too large (decompression bomb)") from exc
        except Image.UnidentifiedImageError as exc:
            raise InputError("not an image (could not identify format)") from exc
        except Exception as exc:  # any other PIL failure is a bad file, never a crash
            log.debug("decode failed", exc_info=True)
            raise InputError("image is truncated or corrupt") from exc


def _unreadable(exc: OSError) -> InputError:
    return InputError(f"cannot read file ({exc.strerror or type(exc).__name__})")


def _check_pixels(size: tuple[int, int], limits: ImageLimits) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise InputError("image has no pixels")
    if width * height > limits.max_pixels:
        raise InputError(
            f"image too large ({width}x{height} pixels, limit {limits.max_pixels:,} pixels)"
        )


def _load(image: Image.Image) -> None:
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError("image is truncated or corrupt") from exc


def _orient(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a broken EXIF block is ignored, not fatal."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        log.debug("ignoring unreadable EXIF orientation", exc_info=True)
        return image.copy()


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        return _sixteen_bit_to_rgb(image)
    if mode in _ALPHA_MODES or "transparency" in image.info:
        return _flatten_alpha(image.convert("RGBA"))
    if mode == "P" and image.palette is not None and image.palette.mode == "RGBA":
        return _flatten_alpha(image.convert("RGBA"))
    icc = image.info.get("icc_profile")
    if icc and mode in ("RGB", "CMYK"):
        converted = _icc_to_srgb(image, icc)
        if converted is not None:
            return converted
    return image if mode == "RGB" else image.convert("RGB")


def _sixteen_bit_to_rgb(image: Image.Image) -> Image.Image:
    # PIL's convert("L") clips 16-bit values at 255 instead of scaling them.
    values = np.asarray(image).astype(np.float32)
    gray = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
    return Image.fromarray(gray).convert("RGB")


def _flatten_alpha(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGBA", rgba.size, _WHITE)
    return Image.alpha_composite(background, rgba).convert("RGB")


def _icc_to_srgb(image: Image.Image, icc: bytes) -> Image.Image | None:
    """Convert through the embedded colour profile (CMYK, Display P3...); None if unusable."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
    except Exception:
        log.debug("ignoring unusable ICC profile", exc_info=True)
        return None
