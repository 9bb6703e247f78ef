"""Animated GIF, WebP and PNG (APNG): read frame by frame with their timing and loop, and
written back as one GIF whose colours come from one palette.

An animation is a clip (`engine.video.kind.is_clip`): the clip limits apply to it (bytes,
seconds, frames, a side's pixels) and the image limit on pixels, all read from the headers
before a frame is decoded.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from engine.errors import EngineError, InputError

from .probe import ClipLimits, MiB

ANIMATED_FORMATS = ("GIF", "PNG", "WEBP")
DEFAULT_DELAY_MS = 100  # what browsers play a GIF frame of 0 or 10 ms for
MIN_DELAY_MS = 20
MAX_DECODED_PIXELS = 2_000_000_000  # frames x pixels: beyond this a small file hides a bomb
MAX_GIF_PIXELS = 256 * MiB  # frames x pixels kept (one byte each) to write one GIF
GIF_COLOURS = 255
PALETTE_FRAMES = 8  # the palette is drawn from the first frames, then kept for every frame
GIF_SHRINK_TRIES = 4
_WHITE = (255, 255, 255, 255)


def file_head(data: bytes | Path, size: int = 16) -> bytes:
    """The first `size` bytes of these bytes or of this file: enough to tell its format."""
    if isinstance(data, Path):
        with data.open("rb") as file:
            return file.read(size)
    return data[:size]


def _head_is_animatable(head: bytes) -> bool:
    """GIF, PNG or WebP by their first bytes (the only formats that can move here)."""
    if head.startswith((b"GIF87a", b"GIF89a", b"\x89PNG\r\n\x1a\n")):
        return True
    return head.startswith(b"RIFF") and head[8:12] == b"WEBP"


def is_animation(data: bytes | Path) -> bool:
    """Whether these bytes (or this file) are a GIF, WebP or PNG with more than one frame,
    from its headers."""
    if not _head_is_animatable(file_head(data)):
        return False
    source = data if isinstance(data, Path) else io.BytesIO(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(source, formats=ANIMATED_FORMATS) as image:
                return bool(getattr(image, "is_animated", False))
    except Exception:  # not decodable: the image door says why
        return False


def _delay(value: object) -> int:
    """A frame's delay in ms, as browsers play it (0 and 10 ms become 100 ms)."""
    try:
        delay = round(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_DELAY_MS
    return DEFAULT_DELAY_MS if delay < MIN_DELAY_MS else delay


@dataclass(frozen=True)
class AnimationInfo:
    """What an animation's headers say: its canvas, each frame's delay, and its loop."""

    width: int
    height: int
    durations_ms: list[int]  # one per frame
    loop: int | None  # 0: forever; n: n more times; None: played once

    @property
    def frames(self) -> int:
        return len(self.durations_ms)

    @property
    def duration(self) -> float:
        """Seconds, all frames together."""
        return sum(self.durations_ms) / 1000

    @property
    def fps(self) -> float:
        """The frame rate of a constant-rate copy that keeps every delay (`repeats`)."""
        step = math.gcd(*self.durations_ms) if self.durations_ms else DEFAULT_DELAY_MS
        return 1000 / max(step, MIN_DELAY_MS)

    def repeats(self) -> list[int]:
        """How many times each frame is shown in a copy at `fps`: the delays kept, on a grid."""
        step, shown, counts, end = 1000 / self.fps, 0, [], 0
        for delay in self.durations_ms:
            end += delay
            count = max(1, round(end / step) - shown)
            counts.append(count)
            shown += count
        return counts


def _open(path: Path) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(path, formats=ANIMATED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputError("animation too large (decompression bomb)") from exc
        except Exception as exc:
            raise InputError("not an animation, or the file is corrupt") from exc


def probe_animation(path: Path, limits: ClipLimits = ClipLimits()) -> AnimationInfo:
    """Read an animation's headers and check every clip limit; InputError says what is wrong."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise InputError(
            f"clip too large ({size / MiB:.1f} MiB, limit {limits.max_bytes / MiB:.0f} MiB)"
        )
    with _open(path) as image:
        width, height = image.size
        if max(width, height) > limits.max_side:
            raise InputError(
                f"clip resolution too large ({width}x{height}, limit {limits.max_side} px a side)"
            )
        if width * height > limits.max_pixels:
            raise InputError(
                f"image too large ({width}x{height} pixels, limit {limits.max_pixels:,} pixels)"
            )
        try:
            frames = int(getattr(image, "n_frames", 1))
        except Exception as exc:
            raise InputError("the animation is truncated or corrupt") from exc
        if frames > limits.max_frames:
            raise InputError(f"clip has too many frames ({frames}, limit {limits.max_frames})")
        if frames * width * height > MAX_DECODED_PIXELS:
            raise InputError(f"animation too large ({frames} frames of {width}x{height})")
        durations = []
        try:
            for index in range(frames):
                image.seek(index)
                if image.format == "WEBP":
                    image.load()  # WebP reads a frame's delay as it decodes it
                durations.append(_delay(image.info.get("duration")))
        except Exception as exc:
            raise InputError("the animation is truncated or corrupt") from exc
        loop = image.info.get("loop")
    info = AnimationInfo(width, height, durations, int(loop) if loop is not None else None)
    if info.duration > limits.max_seconds:
        raise InputError(f"clip too long ({info.duration:.1f} s, limit {limits.max_seconds:g} s)")
    return info


def read_animation(path: Path, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """(H, W, 3) uint8 frames, composited as browsers show them, on white, scaled to `size`."""
    with _open(path) as image:
        try:
            for frame in ImageSequence.Iterator(image):
                rgba = frame.convert("RGBA")
                flat = Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba)
                rgb = flat.convert("RGB").resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
                yield np.asarray(rgb)
        except InputError:
            raise
        except Exception as exc:
            raise InputError("the animation is truncated or corrupt") from exc


@dataclass
class GifFrames:
    """Composed RGB frames kept in one palette (drawn from the first frames, so colours do
    not flicker from frame to frame), to be written as one GIF with their delays."""

    durations_ms: list[int]
    loop: int | None
    frames: list[Image.Image] = field(default_factory=list)
    _palette: Image.Image | None = None

    def add(self, batch: Sequence[np.ndarray]) -> None:
        """Frames (H, W, 3) uint8, in order."""
        if self._palette is None:
            sample = np.concatenate(list(batch[:PALETTE_FRAMES]), axis=0)
            self._palette = Image.fromarray(sample).quantize(
                GIF_COLOURS, method=Image.Quantize.MEDIANCUT
            )
        for frame in batch:
            self.frames.append(
                Image.fromarray(frame).quantize(palette=self._palette, dither=Image.Dither.NONE)
            )

    def encode(self, scale: float = 1.0) -> bytes:
        """The GIF (its frames scaled by `scale`); two equal frames in a row become one."""
        if not self.frames:
            raise EngineError("no frames to write")
        frames = self.frames
        if scale != 1.0:
            width, height = frames[0].size
            size = (max(2, round(width * scale)), max(2, round(height * scale)))
            frames = [frame.resize(size, Image.Resampling.NEAREST) for frame in frames]
        extra = {} if self.loop is None else {"loop": self.loop}
        buffer = io.BytesIO()
        frames[0].save(
            buffer,
            "GIF",
            save_all=True,
            append_images=frames[1:],
            duration=self.durations_ms[: len(frames)],
            disposal=1,
            optimize=False,
            **extra,
        )
        return buffer.getvalue()

    def fit(self, budget_bytes: int) -> tuple[bytes, list[str]]:
        """The GIF within `budget_bytes`, smaller when it must be (notes say how); EngineError
        when even the smallest try does not fit."""
        data, scale, notes = self.encode(), 1.0, list[str]()
        for _ in range(GIF_SHRINK_TRIES):
            if len(data) <= budget_bytes:
                return data, notes
            scale *= 0.9 * math.sqrt(budget_bytes / len(data))
            data = self.encode(scale)
            width, height = Image.open(io.BytesIO(data)).size
            notes = [f"resolution lowered to {width}x{height}"]
        if len(data) > budget_bytes:
            raise EngineError(
                f"the GIF does not fit in {budget_bytes / MiB:.1f} MiB; ask for an MP4"
            )
        return data, notes
