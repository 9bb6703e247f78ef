"""Clips: generated with ffmpeg, translated, and their outputs probed."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from moviepy.video.io.ffmpeg_reader import ffmpeg_parse_infos
from PIL import Image, ImageSequence

from engine.errors import InputError
from engine.models import load_model
from engine.pipeline import ClipTranslator, ImageTranslator, TranslateOptions
from engine.pipeline.clips import blend_successive
from engine.video import ClipLimits, is_clip, probe_animation, probe_clip, read_frames
from tests.conftest import FFMPEG, GIF_DURATIONS, animation, encoded, ffmpeg, make_clip, photo_like


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
    return ClipTranslator(ImageTranslator(model, runtime="eager-fp32", batch_size=4))


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


def test_an_ffmpeg_gif_becomes_a_gif_or_an_mp4(clips: ClipTranslator, tmp_path: Path) -> None:
    gif = tmp_path / "anim.gif"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=5:duration=1", str(gif))
    result = clips.translate(gif, tmp_path / "gif.mp4", TranslateOptions(panels=3), output="mp4")
    assert result.frames == 5 and probe(result.path)["video_size"] == [3 * 64 + 8, 64]
    animated = clips.translate(gif, tmp_path / "again", TranslateOptions(panels=3), output="gif")
    assert animated.format == "gif" and Image.open(animated.path).n_frames == 5


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
    translator = ImageTranslator(model, runtime="eager-fp32", batch_size=4)
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


def gif_frames(path: Path) -> tuple[int, list[int], object]:
    """An animation's frame count, delays and loop, as Pillow reads them."""
    with Image.open(path) as image:
        delays = []
        for frame in ImageSequence.Iterator(image):
            delays.append(frame.info["duration"])
        return image.n_frames, delays, image.info.get("loop")


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_an_animation_comes_back_as_a_gif_with_its_frames_delays_and_loop(
    clips: ClipTranslator, tmp_path: Path, fmt: str
) -> None:
    source = tmp_path / f"anim.{fmt.lower()}"
    source.write_bytes(animation(fmt=fmt))
    assert is_clip(source) and is_clip(source.read_bytes())
    seen: list[tuple[int, int]] = []
    result = clips.translate(
        source, tmp_path / "out.mp4", progress=lambda d, t: seen.append((d, t)), output="auto"
    )
    assert result.format == "gif" and result.path == tmp_path / "out.gif"
    frames, delays, loop = gif_frames(result.path)
    assert (frames, delays, loop) == (len(GIF_DURATIONS), list(GIF_DURATIONS), 0)
    assert result.frames == frames and result.duration == sum(GIF_DURATIONS) / 1000
    assert Image.open(result.path).size == (2 * 64 + 4, 64) == (result.width, result.height)
    assert seen[-1] == (frames, frames)


def test_a_gif_played_once_stays_played_once(clips: ClipTranslator, tmp_path: Path) -> None:
    source = tmp_path / "once.gif"
    source.write_bytes(animation(loop=None))
    result = clips.translate(source, tmp_path / "out", output="gif")
    assert gif_frames(result.path)[2] is None


def test_an_animation_asked_as_an_mp4_keeps_its_timing(
    clips: ClipTranslator, tmp_path: Path
) -> None:
    source = tmp_path / "anim.gif"
    source.write_bytes(animation())
    result = clips.translate(source, tmp_path / "out", TranslateOptions(panels=3), output="mp4")
    info = probe(result.path)
    assert result.format == "mp4" and info["video_size"] == [3 * 64 + 8, 64]
    assert info["video_fps"] == 10  # the delays' common step, 100 ms: every delay kept
    assert info["video_n_frames"] == sum(GIF_DURATIONS) // 100


def test_an_animation_over_the_budget_as_a_gif_becomes_an_mp4(
    clips: ClipTranslator, tmp_path: Path
) -> None:
    source = tmp_path / "anim.gif"
    source.write_bytes(animation(size=(96, 96)))
    gif = clips.translate(source, tmp_path / "roomy", TranslateOptions(size=128), output="auto")
    assert gif.format == "gif"
    result = clips.translate(
        source,
        tmp_path / "tight",
        TranslateOptions(size=128),
        budget_bytes=gif.bytes - 1,
        output="auto",
    )
    assert result.format == "mp4" and result.path.suffix == ".mp4"
    assert result.bytes <= gif.bytes - 1 and "as a GIF it would be" in (result.format_note or "")
    shrunk = clips.translate(
        source,
        tmp_path / "shrunk",
        TranslateOptions(size=128),
        budget_bytes=gif.bytes // 2,
        output="gif",
    )
    assert shrunk.format == "gif" and shrunk.bytes <= gif.bytes // 2 and shrunk.quality_reduced
    assert gif_frames(shrunk.path)[0] == len(GIF_DURATIONS)


def test_gif_frames_share_one_palette(clips: ClipTranslator, tmp_path: Path) -> None:
    """Colours stay put: every frame is drawn from the first frames' palette."""
    source = tmp_path / "anim.gif"
    source.write_bytes(animation(size=(64, 48)))
    result = clips.translate(source, tmp_path / "out", output="gif")
    colours: set[tuple[int, ...]] = set()
    with Image.open(result.path) as image:
        for frame in ImageSequence.Iterator(image):
            colours |= {c for _, c in frame.convert("RGB").getcolors(1 << 16) or []}
    assert len(colours) <= 255


def test_the_clip_rule_is_by_content() -> None:
    still_gif = encoded(photo_like(32, 32), "GIF")
    assert not is_clip(still_gif) and not is_clip(encoded(photo_like(32, 32)))
    assert is_clip(animation()) and is_clip(animation(fmt="PNG")) and is_clip(animation(fmt="WEBP"))
    assert not is_clip(b"GIF89a not really a gif")


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (ClipLimits(max_seconds=0.5), "clip too long"),
        (ClipLimits(max_frames=5), "too many frames"),
        (ClipLimits(max_bytes=100), "clip too large"),
        (ClipLimits(max_side=16), "resolution too large"),
        (ClipLimits(max_pixels=1000), "image too large"),
    ],
)
def test_animation_limits_are_checked_on_the_headers(
    tmp_path: Path, limits: ClipLimits, message: str
) -> None:
    source = tmp_path / "anim.gif"
    source.write_bytes(animation())
    with pytest.raises(InputError, match=message):
        probe_animation(source, limits)
