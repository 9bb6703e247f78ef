"""The final pass: add the original audio, move the index to the front (faststart), and
fit the byte budget, lowering the bitrate first and the resolution after."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import imageio_ffmpeg

from engine.errors import EngineError

log = logging.getLogger(__name__)

AUDIO_BITRATE = 96_000
MIN_BITS_PER_PIXEL = 0.04  # below this per pixel and frame, H.264 turns to mush
HEADROOM = 0.92  # container overhead and rate-control overshoot
MAX_ATTEMPTS = 5


@dataclass
class FitReport:
    """What the final pass did to make the clip fit."""

    width: int
    height: int
    bytes: int
    reencoded: bool = False
    quality_reduced: bool = False
    notes: list[str] = field(default_factory=list)


def _ffmpeg(args: list[str]) -> None:
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        log.error("ffmpeg failed: %s\n%s", " ".join(command), done.stderr[-2000:])
        raise EngineError("encoding the clip failed")


def _mux(video: Path, audio_source: Path | None, out: Path, video_args: list[str]) -> None:
    inputs = ["-i", str(video)] + (["-i", str(audio_source)] if audio_source else [])
    audio = (
        ["-map", "1:a:0?", "-c:a", "aac", "-b:a", str(AUDIO_BITRATE), "-shortest"]
        if audio_source
        else []
    )
    _ffmpeg([*inputs, "-map", "0:v:0", *video_args, *audio, "-movflags", "+faststart", str(out)])


def fit_to_budget(
    video: Path,
    audio_source: Path | None,
    out: Path,
    size: tuple[int, int],
    fps: float,
    duration: float,
    budget_bytes: int,
) -> FitReport:
    """Write `out` within `budget_bytes`; EngineError if even the smallest try is too big."""
    _mux(video, audio_source, out, ["-c:v", "copy"])
    report = FitReport(*size, out.stat().st_size)
    target = budget_bytes
    for _ in range(MAX_ATTEMPTS):
        if report.bytes <= budget_bytes:
            return report
        report = _reencode(video, audio_source, out, size, fps, duration, target)
        target = int(target * min(0.9, budget_bytes / report.bytes))  # overshot: aim lower
    if report.bytes > budget_bytes:
        raise EngineError("the result does not fit in the upload limit, even at low quality")
    return report


def _reencode(
    video: Path,
    audio_source: Path | None,
    out: Path,
    size: tuple[int, int],
    fps: float,
    duration: float,
    target_bytes: int,
) -> FitReport:
    """One constrained encode aiming at `target_bytes`."""
    audio_bits = AUDIO_BITRATE * duration if audio_source else 0
    bitrate = max(1000, int((target_bytes * 8 * HEADROOM - audio_bits) / max(duration, 0.1)))
    width, height = size
    # The resolution drops only when the bitrate alone would leave too few bits per pixel.
    while bitrate < MIN_BITS_PER_PIXEL * width * height * fps and min(width, height) > 64:
        width, height = round(width * 0.75 / 2) * 2, round(height * 0.75 / 2) * 2
    scale = ["-vf", f"scale={width}:{height}"] if (width, height) != size else []
    rate = str(bitrate)
    codec = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    _mux(
        video, audio_source, out, [*scale, *codec, "-b:v", rate, "-maxrate", rate, "-bufsize", rate]
    )
    report = FitReport(width, height, out.stat().st_size, reencoded=True, quality_reduced=True)
    report.notes.append(f"video bitrate lowered to {bitrate // 1000} kbps")
    if (width, height) != size:
        report.notes.append(f"resolution lowered to {width}x{height}")
    return report
