"""Frames/s for a clip, end to end: a naive moviepy loop against the engine's clip path.

(a) naive: moviepy's frame iterator; per frame scikit-learn KMeans(7) on all pixels (Lab),
    one fp32 generator call, Pillow composition; moviepy's ffmpeg writer.
(b) engine: ClipTranslator (ffmpeg-side downscaling, subsampled warm-started k-means,
    the runtime `auto` picks at its measured batch size, streamed H.264 encode, final fit
    pass).
Both run the bundled `nature` generator (or `--model`) at model size 256. It also prints
the flicker (mean absolute difference between consecutive interpretation frames, 0-255)
on a static-camera clip with sensor noise, with and without the engine's temporal
stabilisation, and the warping error (Lai et al. 2018, `engine.video.warping`) of the model
on a camera pan across an everyday photo: without stabilisation, with it, and with it plus
blends of successive outputs (`--smooth`). One frame of each smoothed clip is saved to look
for ghosting.

Run from the repository root:
    .venv/bin/python -m bench.video [--seconds 5] [--repeats 3] [--model nature]
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import torch
from moviepy import VideoFileClip
from moviepy.video.io.ffmpeg_writer import FFMPEG_VideoWriter
from PIL import Image
from skimage import data as skimage_samples

from bench.common import describe_machine, interleaved_medians, photo_like
from bench.images import SIZE, clusters_model, naive_one
from engine.device import resolve_device
from engine.models import Model
from engine.pipeline import ClipTranslator, ImageTranslator, TranslateOptions
from engine.segment.clusters import palette
from engine.video import read_frames
from engine.video.warping import warping_error

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def make_clip(
    path: Path,
    seconds: float,
    width: int,
    height: int,
    fps: int,
    pan: bool,
    photo: Image.Image | None = None,
) -> None:
    """A scene (photo-like, or `photo`): panned across (a moving camera) or still with noise."""
    still = path.with_suffix(".png")
    size = (width * 2 if pan else width, height)
    (photo.resize(size) if photo else photo_like(*size, seed=7)).save(still)
    pan_filter = f"crop={width}:{height}:x='t*{width / seconds:.1f}':y=0"
    motion = pan_filter if pan else "noise=alls=10:allf=t"
    encode = ["-t", str(seconds), "-r", str(fps), "-c:v", "libx264", "-pix_fmt", "yuv420p"]
    command = [FFMPEG, "-y", "-loglevel", "error", "-loop", "1", "-i", str(still), "-vf", motion]
    command += [*encode, str(path)]
    subprocess.run(command, check=True)


def naive_clip(source: Path, target: Path, model: Model, colours: np.ndarray) -> int:
    clip = VideoFileClip(str(source), audio=False)
    writer = None
    frames = 0
    for frame in clip.iter_frames(dtype="uint8"):
        composed = np.asarray(naive_one(Image.fromarray(frame), model.generator, colours))
        if writer is None:
            height, width = composed.shape[:2]
            writer = FFMPEG_VideoWriter(
                str(target), (width - width % 2, height - height % 2), clip.fps
            )
        writer.write_frame(composed[: height - height % 2, : width - width % 2])
        frames += 1
    if writer is not None:
        writer.close()
    clip.close()
    return frames


def flicker(clip_path: Path, width: int, height: int) -> float:
    """Mean |frame_t - frame_t-1| over the right-hand (interpretation) panel."""
    panel = slice(width // 2 + 2, None)  # the composed width is 2 panels + a 4 px gap
    frames = [f[:, panel].astype(np.float32) for f in read_frames(clip_path, (width, height))]
    return float(np.mean([np.abs(a - b).mean() for a, b in itertools.pairwise(frames)]))


def panels(clip_path: Path, width: int, height: int, count: int) -> tuple[list, list]:
    """The first `count` frames' original (left) and interpretation (right) panels."""
    half = (width - 4) // 2  # the composed width is 2 panels + a 4 px gap
    frames = list(itertools.islice(read_frames(clip_path, (width, height)), count))
    return [f[:, :half] for f in frames], [f[:, -half:] for f in frames]


def warping_section(model: Model, work: Path, args: argparse.Namespace) -> None:
    """Warping error of `model` on a pan across a photo, stabilised or not, smoothed or not."""
    source = work / "pan-photo.mp4"
    photo = Image.fromarray(skimage_samples.chelsea())
    make_clip(source, 2.0, args.width, args.height, args.fps, pan=True, photo=photo)
    translator = ImageTranslator(model)
    print(
        f"warping error of {model.spec.label} on a 2 s pan across a photo, first "
        f"{args.warp_frames} frames (lower is steadier):"
    )
    settings = [(False, 0.0), (True, 0.0)] + [(True, s) for s in args.smooth]
    for stabilize, smooth in settings:
        target = work / f"warp-{stabilize}-{smooth}.mp4"
        result = ClipTranslator(translator, stabilize, smooth).translate(source, target)
        inputs, outputs = panels(result.path, result.width, result.height, args.warp_frames)
        error = warping_error(inputs, outputs)
        label = f"{'with' if stabilize else 'without'} stabilisation, smooth {smooth:g}"
        print(f"  {label:<38} {error:.5f}")
        if smooth:
            frame = Path(args.frames_dir) / f"smooth-{smooth:g}.png"
            frame.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.concatenate([inputs[-1], outputs[-1]], axis=1)).save(frame)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--model", default="nature", help="a clusters model (name[@version])")
    parser.add_argument("--smooth", type=float, nargs="*", default=[0.5, 0.8])
    parser.add_argument("--warp-frames", type=int, default=12)
    parser.add_argument("--frames-dir", default="out/video", help="where smoothed frames go")
    parser.add_argument("--only-warping", action="store_true", help="skip the timings")
    args = parser.parse_args()
    device = resolve_device(args.device)
    model = clusters_model(args.model, device)
    translator = ImageTranslator(model)
    colours = palette(7).numpy()
    frames = round(args.seconds * args.fps)
    print(describe_machine())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        warping_section(model, work, args)
        if args.only_warping:
            return 0
        print(
            f"{args.seconds:g} s {args.width}x{args.height} {args.fps} fps clip ({frames} "
            f"frames), {model.spec.label} at {SIZE} px, median of {args.repeats}"
        )
        source = work / "pan.mp4"
        make_clip(source, args.seconds, args.width, args.height, args.fps, pan=True)
        clips = ClipTranslator(translator)
        runs = {
            "naive": lambda: naive_clip(source, work / "naive.mp4", model, colours),
            "engine": lambda: clips.translate(source, work / "engine.mp4"),
        }
        medians = interleaved_medians(runs, args.repeats)
        naive_rate, engine_rate = (frames / medians[name] for name in ("naive", "engine"))
        print(f"(a) naive:  {naive_rate:7.2f} frames/s ({medians['naive']:.1f} s)")
        print(
            f"(b) engine: {engine_rate:7.2f} frames/s ({medians['engine']:.1f} s, batch "
            f"{translator.batch_size}, {translator.runtime.name}, {device})"
        )
        print(f"ratio (b)/(a): {engine_rate / naive_rate:.2f}x")

        still = work / "still.mp4"
        make_clip(still, 2.0, args.width, args.height, args.fps, pan=False)
        for stabilize in (True, False):
            result = ClipTranslator(translator, stabilize).translate(
                still, work / f"still-{stabilize}.mp4", TranslateOptions()
            )
            label = "with" if stabilize else "without"
            value = flicker(result.path, result.width, result.height)
            print(f"flicker {label} stabilisation: {value:.2f}")
    return 0


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    sys.exit(main())
