"""Frames/s for a clip, end to end: a naive moviepy loop against the engine's clip path.

(a) naive: moviepy's frame iterator; per frame scikit-learn KMeans(7) on all pixels (Lab),
    one fp32 generator call, Pillow composition; moviepy's ffmpeg writer.
(b) engine: ClipTranslator (ffmpeg-side downscaling, subsampled warm-started k-means,
    batches, channels-last, bf16 where fast, streamed H.264 encode, final fit pass).
Both use the ngf=64 generator at model size 256. It also prints the flicker (mean absolute
difference between consecutive interpretation frames, 0-255) on a static-camera clip with
sensor noise, with and without the engine's temporal stabilisation.

Run from the repository root: .venv/bin/python -m bench.video [--seconds 5] [--repeats 3]
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

from bench.common import describe_machine, interleaved_medians, photo_like
from bench.images import SIZE, build_model, naive_one
from engine.device import resolve_device
from engine.models import Model
from engine.pipeline import ClipTranslator, ImageTranslator, TranslateOptions
from engine.segment.clusters import palette
from engine.video import read_frames

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def make_clip(path: Path, seconds: float, width: int, height: int, fps: int, pan: bool) -> None:
    """A photo-like scene: panned across (a moving camera) or still with sensor noise."""
    still = path.with_suffix(".png")
    photo_like(width * 2 if pan else width, height, seed=7).save(still)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    model = build_model(device)
    translator = ImageTranslator(model)
    colours = palette(7).numpy()
    frames = round(args.seconds * args.fps)
    print(describe_machine())
    print(f"{args.seconds:g} s {args.width}x{args.height} {args.fps} fps clip ({frames} frames), "
          f"model size {SIZE}, ngf=64, median of {args.repeats}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
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
        print(f"(b) engine: {engine_rate:7.2f} frames/s ({medians['engine']:.1f} s, batch "
              f"{translator.batch_size}, {translator.precision}, {device})")  # fmt: skip
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
