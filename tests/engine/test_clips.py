"""Clips: generated with ffmpeg, translated, and their outputs probed."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch
from moviepy.video.io.ffmpeg_reader import ffmpeg_parse_infos

from engine.errors import InputError
from engine.models import load_model
from engine.pipeline import ClipTranslator, ImageTranslator, TranslateOptions
from engine.pipeline.clips import blend_successive
from engine.video import ClipLimits, probe_clip, read_frames

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-y", "-loglevel", "error", *args], check=True, timeout=60)


def make_clip(
    path: Path, seconds: float = 1.0, fps: int = 10, audio: bool = True, size: str = "96x64"
) -> Path:
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


def stream_description(path: Path, kind: str) -> str:
    """ffmpeg's one-line description of the first stream of `kind` (Video or Audio)."""
    listing = subprocess.run(
        [FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True, check=False
    )
    return next(
        line for line in listing.stderr.splitlines() if "Stream #0" in line and kind in line
    )


def probe(path: Path) -> dict:
    return ffmpeg_parse_infos(str(path), decode_file=True)


@pytest.fixture
def clips(make_model) -> ClipTranslator:
    model = load_model(make_model(), torch.device("cpu"))
    return ClipTranslator(ImageTranslator(model, precision="fp32", batch_size=4))


@pytest.mark.parametrize(
    ("name", "audio"), [("a.mp4", True), ("b.mp4", False), ("c.webm", True), ("d.mkv", True)]
)
def test_side_by_side_keeps_rate_duration_and_audio(
    clips: ClipTranslator, tmp_path: Path, name: str, audio: bool
) -> None:
    source = make_clip(tmp_path / name, audio=audio)
    seen: list[tuple[int, int]] = []
    result = clips.translate(
        source, tmp_path / "out.mp4", progress=lambda d, t: seen.append((d, t))
    )
    info = probe(result.path)
    assert info["video_codec_name"] == "h264" and info["video_fps"] == 10
    assert info["video_size"] == [2 * 64 + 4, 42] == [result.width, result.height]
    assert result.frames == 10 and abs(info["duration"] - 1.0) < 0.15
    assert info["audio_found"] is audio and result.has_audio is audio
    assert "yuv420p" in stream_description(result.path, "Video")
    assert seen[-1] == (10, 10) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    moov = result.path.read_bytes().find(b"moov")
    assert 0 < moov < result.path.read_bytes().find(b"mdat")  # faststart: index first


def test_animated_gif_becomes_an_mp4(clips: ClipTranslator, tmp_path: Path) -> None:
    gif = tmp_path / "anim.gif"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=5:duration=1", str(gif))
    result = clips.translate(gif, tmp_path / "gif.mp4", TranslateOptions(panels=3))
    assert result.frames == 5 and probe(result.path)["video_size"] == [3 * 64 + 8, 64]


def test_output_is_fitted_to_the_byte_budget(clips: ClipTranslator, tmp_path: Path) -> None:
    source = make_clip(tmp_path / "big.mp4", seconds=2, fps=25, size="320x240")
    roomy = clips.translate(source, tmp_path / "roomy.mp4", TranslateOptions(size=256))
    assert not roomy.quality_reduced
    budget = roomy.bytes // 3
    tight = clips.translate(
        source, tmp_path / "tight.mp4", TranslateOptions(size=256), budget_bytes=budget
    )
    assert tight.quality_reduced and tight.bytes <= budget
    assert tight.path.stat().st_size <= budget and any("bitrate" in note for note in tight.notes)
    assert probe(tight.path)["audio_found"]


def test_large_inputs_are_downscaled_while_decoding(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "wide.mp4", size="640x360", audio=False)
    frames = list(read_frames(source, (128, 72)))
    assert len(frames) == 10 and frames[0].shape == (72, 128, 3)


def test_stabilised_clusters_do_not_flicker_on_a_static_scene(
    clips: ClipTranslator, tmp_path: Path
) -> None:
    still = tmp_path / "still.mp4"
    # A static camera: one picture, with fresh sensor noise in every frame.
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=96x64:rate=10:duration=1",
        "-frames:v",
        "1",
        str(tmp_path / "s.png"),
    )
    noisy = [
        "-vf",
        "noise=alls=12:allf=t",
        "-t",
        "1",
        "-r",
        "10",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
    ]
    ffmpeg("-loop", "1", "-i", str(tmp_path / "s.png"), *noisy, str(still))
    result = clips.translate(still, tmp_path / "still-out.mp4", TranslateOptions(panels=3))
    frames = list(read_frames(result.path, (result.width, result.height)))
    segmentation = [f[:, 68:132].astype(np.int16) for f in frames]
    changed = [np.mean(np.abs(a - b).sum(-1) > 60) for a, b in itertools.pairwise(segmentation)]
    assert max(changed) < 0.05  # under 5% of pixels change cluster between frames


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (ClipLimits(max_seconds=0.5), "clip too long"),
        (ClipLimits(max_frames=5), "too many frames"),
        (ClipLimits(max_bytes=100), "clip too large"),
        (ClipLimits(max_side=32), "resolution too large"),
    ],
)
def test_limits_are_checked_before_decoding(
    tmp_path: Path, limits: ClipLimits, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        probe_clip(make_clip(tmp_path / "c.mp4"), limits)


def test_bad_files_get_clear_errors(clips: ClipTranslator, tmp_path: Path) -> None:
    audio_only = tmp_path / "sound.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(audio_only))
    zero = tmp_path / "zero.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48:rate=10:duration=1",
        "-frames:v",
        "0",
        "-c:v",
        "libx264",
        str(zero),
    )
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    cases = {
        audio_only: "no video stream",
        zero: "no frames",
        corrupt: "corrupt",
        empty: "empty file",
    }
    for path, message in cases.items():
        with pytest.raises(InputError, match=message):
            clips.translate(path, tmp_path / "never.mp4")
        assert not (tmp_path / "never.mp4").exists()


def test_blend_successive_follows_the_lerp_in_order() -> None:
    frames = torch.stack([torch.full((3, 2, 2), float(v)) for v in (0, 1, 1, 1)])
    assert torch.equal(blend_successive(frames, None, 0.0), frames)
    blended = blend_successive(frames, None, 0.5)
    assert [float(f.mean()) for f in blended] == [0.0, 0.5, 0.75, 0.875]
    carried = blend_successive(frames[1:], torch.zeros(3, 2, 2), 0.5)  # across batches
    assert [float(f.mean()) for f in carried] == [0.5, 0.75, 0.875]


def test_smoothing_lowers_the_change_between_interpretation_frames(
    make_model, tmp_path: Path
) -> None:
    model = load_model(make_model(), torch.device("cpu"))
    translator = ImageTranslator(model, precision="fp32", batch_size=4)
    source = make_clip(tmp_path / "a.mp4", audio=False)
    changes = []
    for smooth in (0.0, 0.8):
        result = ClipTranslator(translator, smooth=smooth).translate(source, tmp_path / "o.mp4")
        frames = list(read_frames(result.path, (result.width, result.height)))
        right = [f[:, -64:].astype(np.float32) for f in frames]
        changes.append(np.mean([np.abs(a - b).mean() for a, b in itertools.pairwise(right)]))
    assert changes[1] < 0.6 * changes[0]
    with pytest.raises(ValueError, match="smooth"):
        ClipTranslator(translator, smooth=0.95)
