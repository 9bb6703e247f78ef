"""Fixtures shared by the whole suite: tiny seeded models and generated images."""

from __future__ import annotations

import io
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch
from PIL import Image

import engine.device
from engine.imaging.encode import png_file
from engine.models import ModelMeta, ModelSpec, save_model
from engine.nets import DetailEnhancer, EnhancerConfig, GeneratorConfig, UnetGenerator
from engine.segment import ClustersConfig, EdgesConfig, SegmenterConfig

TINY_GENERATOR = GeneratorConfig(ngf=4, depth=6)

MakeModel = Callable[..., Path]


@pytest.fixture
def make_model(tmp_path: Path) -> MakeModel:
    """Write a tiny seeded random model file; returns its path."""

    def make(
        name: str = "tiny",
        segmenter: SegmenterConfig | None = None,
        version: int = 1,
        directory: Path | None = None,
        size: int = 64,
        seed: int = 0,
        enhancer: EnhancerConfig | None = None,
    ) -> Path:
        folder = directory or tmp_path / "models"
        return write_tiny_model(folder, name, segmenter, version, size, seed, enhancer)

    return make


def write_tiny_model(
    directory: Path,
    name: str = "tiny",
    segmenter: SegmenterConfig | None = None,
    version: int = 1,
    size: int = 64,
    seed: int = 0,
    enhancer: EnhancerConfig | None = None,
) -> Path:
    """A tiny seeded random model file in `directory` (with a detail network whose random
    weights all add something, if `enhancer`); returns its path."""
    torch.manual_seed(seed)
    spec = ModelSpec(
        ModelMeta(name, version=version, description=f"tiny {name}"),
        TINY_GENERATOR,
        segmenter or ClustersConfig(),
        size=size,
        enhancer=enhancer,
    )
    path = directory / f"{name}-v{version}.pt"
    save_model(path, spec, UnetGenerator(TINY_GENERATOR), random_enhancer(enhancer))
    return path


def random_enhancer(config: EnhancerConfig | None) -> DetailEnhancer | None:
    """A detail network with random weights throughout (a new one adds nothing yet)."""
    if config is None:
        return None
    network = DetailEnhancer(config)
    torch.nn.init.normal_(network.tail.weight, std=0.2)
    return network


@pytest.fixture(params=[False, True], ids=["fp32-only-cpu", "native-bf16-cpu"])
def cpu_bf16(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Both kinds of CPU on any machine: whether this one runs bf16 natively (AVX-512 BF16,
    AMX) or only emulates it (AVX2) is set by the test, not read from the hardware."""
    native: bool = request.param
    monkeypatch.setattr(engine.device, "cpu_has_fast_bf16", lambda: native)
    return native


def auto_cpu_runtime() -> str:
    """The runtime `auto` chooses on this CPU (or on the one the `cpu_bf16` fixture sets)."""
    return "openvino-bf16" if engine.device.cpu_has_fast_bf16() else "openvino-fp32"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_model: MakeModel) -> Path:
    """A data directory holding a tiny clusters model and a tiny edges model, set in the env."""
    root = tmp_path / "data"
    make_model("tiny", directory=root / "models")
    make_model("tiny-edges", EdgesConfig(), directory=root / "models")
    monkeypatch.setenv("BEAUTYNET_DATA_DIR", str(root))
    monkeypatch.setenv("BEAUTYNET_DEVICE", "cpu")
    return root


def photo_like(width: int = 160, height: int = 120, seed: int = 0) -> Image.Image:
    """A smooth random colour field with a few shapes: cheap, yet photo-like for k-means."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, size=(4, 5, 3)).astype(np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    array = np.asarray(image).astype(np.int16)
    array[height // 4 : height // 2, width // 4 : width // 2] = rng.integers(0, 255, 3)
    noise = rng.normal(0, 4, array.shape)
    return Image.fromarray(np.clip(array + noise, 0, 255).astype(np.uint8))


@pytest.fixture
def photo() -> Callable[..., Image.Image]:
    return photo_like


def encoded(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height RGB pixels (a decompression bomb's
    header), with almost no data."""
    return png_file(width, height, 2, zlib.compress(b"\x00" * 64))


@pytest.fixture
def bad_inputs() -> dict[str, tuple[bytes, str]]:
    """Bad files by name: (content, a fragment of the expected error message)."""
    jpeg = encoded(photo_like(), "JPEG", quality=90)
    return {
        "empty.png": (b"", "empty"),
        "text.png": (b"this is not an image at all\n", "not an image"),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "truncated"),
        "bomb.png": (png_declaring(40000, 40000), "too large"),
    }


GIF_DURATIONS = (100, 200, 100, 300, 100, 200)  # ms: uneven, so timing is checked


def animation(
    frames: int = len(GIF_DURATIONS),
    size: tuple[int, int] = (32, 32),
    fmt: str = "GIF",
    durations: tuple[int, ...] = GIF_DURATIONS,
    loop: int | None = 0,
) -> bytes:
    """A tiny animation (GIF, PNG or WebP): a photo-like field with a square that moves."""
    width, height = size
    base = np.asarray(photo_like(width, height, seed=3))
    pictures = []
    for index in range(frames):
        array = base.copy()
        left = (index * 4) % max(1, width - 8)
        array[height // 3 : height // 3 + 8, left : left + 8] = (240, 40, 40)
        pictures.append(Image.fromarray(array))
    extra: dict[str, object] = {} if loop is None else {"loop": loop}
    return encoded(
        pictures[0],
        fmt,
        save_all=True,
        append_images=pictures[1:],
        duration=list(durations[:frames]),
        **extra,
    )


FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-y", "-loglevel", "error", *args], check=True, timeout=60)


def make_clip(
    path: Path, seconds: float = 1.0, fps: int = 10, audio: bool = True, size: str = "96x64"
) -> Path:
    """A test-pattern clip (H.264, or VP8 for .webm), with a sine tone unless `audio` is off."""
    video = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={fps}:duration={seconds}"]
    sound = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"] if audio else []
    codec = (
        ["-c:v", "libvpx"] if path.suffix == ".webm" else ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    )
    audio_codec = (
        (["-c:a", "libvorbis"] if path.suffix == ".webm" else ["-c:a", "aac"]) if audio else []
    )
    ffmpeg(*video, *sound, *codec, *audio_codec, "-shortest", str(path))
    return path
