"""engine.imaging: robust decoding of odd and hostile images, composition, encoding."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.errors import InputError
from engine.imaging import (
    ImageLimits,
    decode_image,
    encode_image,
    fit_long_side,
    format_from_path,
    grid,
    read_image,
    side_by_side,
)
from engine.imaging.tensors import to_image, to_tensor
from tests.conftest import png_declaring

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)


def save(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def assert_close(actual: tuple[int, ...], expected: tuple[int, ...], tol: int = 8) -> None:
    assert all(abs(a - e) <= tol for a, e in zip(actual, expected, strict=True)), actual


# --- odd but valid images -------------------------------------------------------------------


def test_exif_orientation_6_rotates_and_moves_marked_corner() -> None:
    stored = Image.new("RGB", (40, 20), BLUE)
    stored.paste(RED, (0, 0, 8, 8))  # mark the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    image = decode_image(save(stored, "PNG", exif=exif))
    assert image.mode == "RGB"
    assert image.size == (20, 40)
    assert image.getpixel((19, 0)) == RED  # top-left went to top-right
    assert image.getpixel((0, 0)) == BLUE


def test_cmyk_jpeg_becomes_rgb() -> None:
    cyan = Image.new("CMYK", (16, 16), (255, 0, 0, 0))
    image = decode_image(save(cyan, "JPEG", quality=95))
    assert image.mode == "RGB"
    assert_close(image.getpixel((8, 8)), (0, 255, 255))


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_grayscale_scales_to_8_bit(fmt: str) -> None:
    values = np.array([[0, 128 * 257, 65535, 1000]], dtype=np.uint16)
    image = decode_image(save(Image.fromarray(values), fmt))
    assert image.mode == "RGB"
    assert [image.getpixel((x, 0)) for x in range(4)] == [
        (0, 0, 0),
        (128, 128, 128),
        (255, 255, 255),
        (4, 4, 4),
    ]


def test_32_bit_integer_mode_i_scales_like_16_bit() -> None:
    values = np.array([[0, 65535, 200 * 257]], dtype=np.int32)
    source = Image.fromarray(values)
    assert source.mode == "I"
    image = decode_image(save(source, "TIFF"))
    assert [image.getpixel((x, 0))[0] for x in range(3)] == [0, 255, 200]


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparency_flattens_onto_white(fmt: str) -> None:
    palette_image = Image.new("P", (8, 8), 0)
    palette_image.putpalette([0, 0, 0, *RED] + [0] * 762)
    palette_image.paste(1, (4, 0, 8, 8))  # right half red, left half index 0 (transparent)
    image = decode_image(save(palette_image, fmt, transparency=0))
    assert image.getpixel((1, 1)) == WHITE
    assert image.getpixel((6, 1)) == RED


def test_rgba_alpha_is_flattened_onto_white() -> None:
    rgba = Image.new("RGBA", (3, 1))
    rgba.putdata([(255, 0, 0, 0), (0, 0, 255, 255), (0, 0, 0, 128)])
    image = decode_image(save(rgba, "PNG"))
    assert image.getpixel((0, 0)) == WHITE
    assert image.getpixel((1, 0)) == BLUE
    assert_close(image.getpixel((2, 0)), (127, 127, 127), tol=1)


def test_la_alpha_is_flattened_onto_white() -> None:
    la = Image.new("LA", (2, 1))
    la.putdata([(0, 0), (50, 255)])
    image = decode_image(save(la, "PNG"))
    assert [image.getpixel((x, 0)) for x in range(2)] == [WHITE, (50, 50, 50)]


@pytest.mark.parametrize("mode", ["L", "1"])
def test_grayscale_and_bilevel_become_gray_rgb(mode: str) -> None:
    source = Image.new(mode, (4, 4), 0)
    source.paste(255, (2, 0, 4, 4))
    image = decode_image(save(source, "PNG"))
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (0, 0, 0)
    assert image.getpixel((3, 0)) == WHITE


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animated_image_gives_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (16, 16), color) for color in (RED, GREEN, BLUE)]
    params: dict[str, object] = {"save_all": True, "append_images": frames[1:], "duration": 100}
    if fmt == "WEBP":
        params["lossless"] = True
    data = save(frames[0], fmt, **params)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3  # really animated
    image = decode_image(data)
    assert image.mode == "RGB"
    assert_close(image.getpixel((8, 8)), RED)


def test_plain_rgb_jpeg_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(save(Image.new("RGB", (30, 20), (10, 200, 30)), "JPEG", quality=95))
    image = read_image(path)
    assert image.size == (30, 20)
    assert_close(image.getpixel((15, 10)), (10, 200, 30))


# --- bad input ------------------------------------------------------------------------------


def noisy_jpeg() -> bytes:
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    return save(Image.fromarray(noise), "JPEG", quality=90)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"hello, I am text\n" * 4, "not an image (could not identify format)"),
        (noisy_jpeg()[:1500], "image is truncated or corrupt"),
        (png_declaring(40000, 40000), "image too large"),
        # EPS would run Ghostscript: PIL knows the format, we refuse it.
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not an image"),
    ],
    ids=["empty", "text", "truncated-jpeg", "bomb-png", "eps"],
)
def test_bad_bytes_give_input_error(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_image(data)


def test_declared_pixels_over_limit_refused_before_decoding() -> None:
    # The data holds no real pixels: decoding would fail as "truncated", so this message
    # proves the refusal came from the header alone.
    with pytest.raises(InputError, match=r"image too large \(2000x1000 pixels"):
        decode_image(png_declaring(2000, 1000), ImageLimits(max_pixels=1_000_000))
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # the global stays untouched


def test_oversize_bytes_refused() -> None:
    data = save(Image.new("RGB", (8, 8)), "PNG")
    with pytest.raises(InputError, match="file too large"):
        decode_image(data, ImageLimits(max_bytes=len(data) - 1))
    assert decode_image(data, ImageLimits(max_bytes=len(data))).size == (8, 8)


def test_read_image_checks_size_before_reading(tmp_path: Path) -> None:
    huge = tmp_path / "huge.png"
    with huge.open("wb") as f:
        f.truncate(8 * 1024**3)  # sparse: 8 GiB declared, no disk used
    with pytest.raises(InputError, match="file too large"):
        read_image(huge)


def test_read_image_text_named_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("shopping list: eggs\n")
    with pytest.raises(InputError, match="not an image"):
        read_image(path)


def test_read_image_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read file"):
        read_image(tmp_path / "nope.png")


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_pixels"):
        ImageLimits(max_pixels=0)


# --- compose, encode, convert ----------------------------------------------------------------


def test_side_by_side_resizes_to_first_height() -> None:
    out = side_by_side([Image.new("RGB", (10, 20), RED), Image.new("RGB", (20, 10), GREEN)], gap=4)
    assert out.size == (10 + 4 + 40, 20)
    assert out.getpixel((5, 10)) == RED
    assert out.getpixel((12, 10)) == WHITE  # the gap
    assert_close(out.getpixel((40, 10)), GREEN)


def test_side_by_side_labels_add_a_caption_strip_with_text() -> None:
    panels = [Image.new("RGB", (64, 64), BLUE)] * 2
    out = side_by_side(panels, labels=["original", "interpretation"])
    assert out.width == 132 and out.height > 64
    strip = np.asarray(out.crop((0, 64, out.width, out.height)))
    assert strip.min() < 128  # some dark text was drawn
    with pytest.raises(ValueError, match="labels"):
        side_by_side(panels, labels=["one"])


def test_grid_pads_rows_and_labels_each() -> None:
    rows = [
        [Image.new("RGB", (32, 32), RED)] * 3,
        [Image.new("RGB", (32, 32), GREEN)],
    ]
    plain = grid(rows)
    assert plain.size == (32 * 3 + 8, 32 * 2 + 4)
    assert plain.getpixel((50, 40)) == WHITE  # short row padded
    labelled = grid(rows, labels=["nature", "nature-edges"])
    assert labelled.width == plain.width and labelled.height > plain.height


@pytest.mark.parametrize(("fmt", "tol"), [("png", 0), ("jpeg", 10), ("webp", 10)])
def test_encode_round_trip(fmt: str, tol: int) -> None:
    source = Image.new("RGB", (32, 24), (200, 40, 90))
    data = encode_image(source, fmt, quality=95)  # type: ignore[arg-type]
    image = decode_image(data)
    assert image.size == (32, 24)
    assert_close(image.getpixel((16, 12)), (200, 40, 90), tol=tol)


def test_encode_rejects_bad_arguments() -> None:
    image = Image.new("RGB", (4, 4))
    with pytest.raises(ValueError, match="'gif'"):
        encode_image(image, "gif")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="quality"):
        encode_image(image, "jpeg", quality=0)


def test_format_from_path() -> None:
    assert format_from_path(Path("a/b.JPG")) == "jpeg"
    assert format_from_path(Path("x.webp")) == "webp"
    assert format_from_path(Path("x.png")) == "png"
    with pytest.raises(ValueError, match=r"'\.bmp'"):
        format_from_path(Path("x.bmp"))


def test_tensor_round_trip_is_exact() -> None:
    array = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    tensor = to_tensor(Image.fromarray(array))
    assert tensor.shape == (3, 5, 7) and tensor.dtype == torch.float32
    assert tensor.min() >= 0.0 and tensor.max() <= 1.0
    assert np.array_equal(np.asarray(to_image(tensor)), array)


def test_to_image_clamps_and_rounds() -> None:
    tensor = torch.tensor([-1.0, 2.0, 0.5, 0.1]).view(1, 1, 4).expand(3, 1, 4)
    image = to_image(tensor)
    assert [image.getpixel((x, 0))[0] for x in range(4)] == [0, 255, 128, 26]
    with pytest.raises(ValueError, match="shape"):
        to_image(torch.zeros(1, 3, 4, 4))


@pytest.mark.parametrize(
    ("size_in", "size", "expected"),
    [((400, 200), 100, (100, 50)), ((10, 5), 40, (40, 20)), ((30, 90), 60, (20, 60))],
)
def test_fit_long_side(size_in: tuple[int, int], size: int, expected: tuple[int, int]) -> None:
    assert fit_long_side(Image.new("RGB", size_in), size).size == expected


@pytest.mark.parametrize(
    ("mode", "shape"),
    [("RGB", (37, 53, 3)), ("L", (37, 53)), ("RGB", (1, 1, 3)), ("RGB", (768, 2048, 3))],
)
def test_png_is_lossless_and_valid(mode: str, shape: tuple[int, ...]) -> None:
    """The PNG writer (Up filter, zlib; a large image's parts deflated at once) against
    Pillow's reader, CRCs checked by verify(), and zlib's own check of the stream."""
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    source = Image.fromarray(pixels)  # uint8 (H, W) is L, (H, W, 3) is RGB
    assert source.mode == mode
    data = encode_image(source)
    Image.open(io.BytesIO(data)).verify()
    decoded = Image.open(io.BytesIO(data))
    assert decoded.mode == mode
    assert np.array_equal(np.asarray(decoded), pixels)
    stream = data[8 + 25 + 8 : -4 - 12]  # IDAT's body: between its header and CRC, before IEND
    rows = zlib.decompress(stream)  # checks the Adler-32 of every part's bytes, in order
    assert len(rows) == shape[0] * (1 + int(np.prod(shape[1:])))


def test_png_of_other_modes_is_rgb_and_flat_areas_pack_tightly() -> None:
    flat = Image.new("RGBA", (512, 512), (10, 200, 30, 128))
    data = encode_image(flat)
    decoded = Image.open(io.BytesIO(data))
    assert decoded.mode == "RGB" and decoded.getpixel((511, 511)) == (10, 200, 30)
    assert len(data) < 4096  # 786 KB of pixels
