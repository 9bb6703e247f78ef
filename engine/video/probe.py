"""Look at a clip before decoding it: limits on bytes, duration, frames and resolution."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError

log = logging.getLogger(__name__)
MiB = 1024 * 1024


@dataclass(frozen=True)
class ClipLimits:
    """Upper bounds on untrusted clips; larger resolutions are downscaled, not refused."""

    max_bytes: int = 50 * MiB
    max_seconds: float = 20.0
    max_frames: int = 1200
    max_side: int = 8192  # beyond this the header is more likely a lie than a video
    max_pixels: int = 40_000_000  # a frame's pixels (the image limit), checked on the header

    def __post_init__(self) -> None:
        if (
            min(self.max_bytes, self.max_seconds, self.max_frames, self.max_side, self.max_pixels)
            <= 0
        ):
            raise ValueError(f"clip limits must be positive, got {self}")


@dataclass(frozen=True)
class ClipInfo:
    """What ffmpeg says about a clip, from its headers."""

    width: int
    height: int
    fps: float
    duration: float
    frames: int
    has_audio: bool


def probe_clip(path: Path, limits: ClipLimits = ClipLimits()) -> ClipInfo:
    """Read a clip's headers and check every limit; InputError says what is wrong."""
    size = path.stat().st_size
    if size == 0:
        raise InputError("empty file")
    if size > limits.max_bytes:
        raise InputError(
            f"clip too large ({size / MiB:.1f} MiB, limit {limits.max_bytes / MiB:.0f} MiB)"
        )
    from moviepy.video.io.ffmpeg_reader import ffmpeg_parse_infos  # as in `frames`: slow

    try:
        infos = ffmpeg_parse_infos(str(path), check_duration=True, decode_file=False)
    except (OSError, KeyError, ValueError, IndexError, AttributeError) as exc:
        log.debug("ffmpeg could not parse %s", path, exc_info=True)
        if "Duration: N/A" in str(exc):  # a valid container that holds no frames at all
            raise InputError("the clip has no frames") from exc
        raise InputError("not a video, or the file is corrupt") from exc
    if not infos.get("video_found"):
        raise InputError("the file has no video stream")
    info = _info(infos)
    _check(info, limits)
    return info


def _info(infos: dict) -> ClipInfo:
    width, height = infos.get("video_size") or (0, 0)
    if abs(infos.get("video_rotation", 0)) in (90, 270):
        width, height = height, width
    fps = float(infos.get("video_fps") or 0)
    duration = float(infos.get("video_duration") or infos.get("duration") or 0)
    frames = int(infos.get("video_n_frames") or round(duration * fps))
    return ClipInfo(width, height, fps, duration, frames, bool(infos.get("audio_found")))


def _check(info: ClipInfo, limits: ClipLimits) -> None:
    if info.width <= 0 or info.height <= 0 or info.fps <= 0:
        raise InputError("not a video, or the file is corrupt")
    if info.frames <= 0 or info.duration <= 0:
        raise InputError("the clip has no frames")
    if info.duration > limits.max_seconds:
        raise InputError(f"clip too long ({info.duration:.1f} s, limit {limits.max_seconds:g} s)")
    if info.frames > limits.max_frames:
        raise InputError(f"clip has too many frames ({info.frames}, limit {limits.max_frames})")
    if max(info.width, info.height) > limits.max_side:
        resolution = f"{info.width}x{info.height}"
        raise InputError(
            f"clip resolution too large ({resolution}, limit {limits.max_side} px a side)"
        )
