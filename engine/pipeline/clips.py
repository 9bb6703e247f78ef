"""The clip path: probe -> stream frames in batches -> segment -> translate -> encode -> fit.

A clip is a video (decoded by ffmpeg, answered with an MP4) or an animated GIF, WebP or PNG
(decoded by Pillow with each frame's delay and the loop, answered with a GIF when it fits the
budget, else an MP4). Memory stays bounded: only one batch of frames is held at a time, and
frames are encoded as they come (a GIF keeps its frames, at one byte a pixel). Colours stay
stable over time because each frame's k-means starts from the previous frame's centroids,
and the generator runs without dropout noise (a GIF's frames share one palette). On request,
successive interpretations are also blended (`smooth`), as Learning to See did live.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from engine.errors import InputError
from engine.options import MAX_SMOOTH, TranslateOptions
from engine.video import (
    ClipLimits,
    FrameWriter,
    GifFrames,
    even_fit,
    fit_to_budget,
    is_animation,
    probe_animation,
    probe_clip,
    read_animation,
    read_frames,
)
from engine.video.animation import MAX_GIF_PIXELS
from engine.video.probe import MiB

from .batching import pad_batch
from .images import ImageTranslator

DEFAULT_BUDGET_BYTES = 10 * 1024 * 1024  # Discord's default upload limit
GAP = 4
ClipProgress = Callable[[int, int], None]  # (frames done, frames in total)
ClipFormat = Literal["auto", "gif", "mp4"]  # auto: a GIF for an animation when it fits
Emit = Callable[[np.ndarray], None]  # a batch of composed frames (B, H, W, 3) uint8, in order


@dataclass(frozen=True)
class ClipResult:
    """The side-by-side clip that was written (`path`, its suffix the format), and whether
    quality had to drop to fit."""

    path: Path
    frames: int
    fps: float
    duration: float
    width: int
    height: int
    bytes: int
    has_audio: bool
    quality_reduced: bool
    notes: list[str] = field(default_factory=list)
    format: Literal["gif", "mp4"] = "mp4"
    format_note: str | None = None  # why an animation became an MP4

    @property
    def animated_gif(self) -> bool:
        return self.format == "gif"


def _batches(frames: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    iterator = iter(frames)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def blend_successive(
    frames: torch.Tensor, previous: torch.Tensor | None, smooth: float
) -> torch.Tensor:
    """out_t = smooth * out_t-1 + (1 - smooth) * frame_t over a (B, 3, H, W) batch, in order."""
    if smooth == 0:
        return frames
    blended = []
    for frame in frames:
        previous = frame if previous is None else smooth * previous + (1 - smooth) * frame
        blended.append(previous)
    return torch.stack(blended)


def _compose(panels: list[torch.Tensor]) -> np.ndarray:
    """(B, 3, H, W) panels in [0, 1] -> (B, H, W_total, 3) uint8, white gaps between."""
    gap = torch.ones(*panels[0].shape[:3], GAP, device=panels[0].device)
    pieces = list(itertools.chain.from_iterable((panel, gap) for panel in panels))[:-1]
    joined = torch.cat(pieces, dim=3).clamp(0, 1).mul(255).round().byte()
    return joined.permute(0, 2, 3, 1).cpu().numpy()


class ClipTranslator:
    """Runs an ImageTranslator over the frames of a clip."""

    def __init__(
        self, translator: ImageTranslator, stabilize: bool = True, smooth: float = 0.0
    ) -> None:
        if not 0 <= smooth <= MAX_SMOOTH:
            raise ValueError(f"smooth must be between 0 and {MAX_SMOOTH}, got {smooth}")
        self.translator = translator
        self.stabilize = stabilize
        self.smooth = smooth

    def translate(
        self,
        source: Path,
        target: Path,
        options: TranslateOptions = TranslateOptions(),
        limits: ClipLimits = ClipLimits(),
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        progress: ClipProgress | None = None,
        output: ClipFormat = "mp4",
    ) -> ClipResult:
        """Write original | interpretation (| segmentation) of `source` beside `target`, its
        suffix the format written (`result.path`): a video becomes an MP4; an animation a
        GIF (with `auto`, when the GIF fits `budget_bytes`; else an MP4)."""
        if is_animation(source):
            return self._animation(source, target, options, limits, budget_bytes, progress, output)
        if output == "gif":
            raise InputError("only an animation (GIF, WebP, APNG) becomes a GIF; a video an MP4")
        info = probe_clip(source, limits)
        size = self._size(info.width, info.height, options)
        out_size = self._out_size(size, options)
        with tempfile.TemporaryDirectory(prefix="beautynet-clip-") as tmp:
            raw = Path(tmp) / "frames.mp4"
            writer = FrameWriter(raw, out_size, info.fps)
            try:
                self._translate_frames(
                    read_frames(source, size),
                    size,
                    options,
                    writer.write_batch,
                    info.frames,
                    progress,
                )
            finally:
                writer.close()
            if writer.frames == 0:
                raise InputError("the clip has no frames")
            duration = writer.frames / info.fps
            audio = source if info.has_audio else None
            out = target.with_suffix(".mp4")
            report = fit_to_budget(raw, audio, out, out_size, info.fps, duration, budget_bytes)
        return ClipResult(
            out,
            writer.frames,
            info.fps,
            duration,
            report.width,
            report.height,
            report.bytes,
            info.has_audio,
            report.quality_reduced,
            report.notes,
        )

    def _size(self, width: int, height: int, options: TranslateOptions) -> tuple[int, int]:
        return even_fit(width, height, options.size or self.translator.model.spec.size)

    @staticmethod
    def _out_size(size: tuple[int, int], options: TranslateOptions) -> tuple[int, int]:
        panel_count = int(options.panels)
        return (panel_count * size[0] + (panel_count - 1) * GAP, size[1])

    def _animation(
        self,
        source: Path,
        target: Path,
        options: TranslateOptions,
        limits: ClipLimits,
        budget_bytes: int,
        progress: ClipProgress | None,
        output: ClipFormat,
    ) -> ClipResult:
        """An animated GIF, WebP or PNG: every frame kept with its delay, and the loop."""
        info = probe_animation(source, limits)
        size = self._size(info.width, info.height, options)
        out_size = self._out_size(size, options)
        gif_fits_memory = info.frames * out_size[0] * out_size[1] <= MAX_GIF_PIXELS
        if output == "gif" and not gif_fits_memory:
            raise InputError(
                f"too many frames of this size for a GIF ({info.frames}); ask for an MP4"
            )
        gif = (
            GifFrames(info.durations_ms, info.loop) if output != "mp4" and gif_fits_memory else None
        )
        repeats, written = info.repeats(), 0
        with tempfile.TemporaryDirectory(prefix="beautynet-clip-") as tmp:
            raw = Path(tmp) / "frames.mp4"
            writer = FrameWriter(raw, out_size, info.fps) if output != "gif" else None

            def emit(frames: np.ndarray) -> None:
                nonlocal written
                if gif is not None:
                    gif.add(list(frames))
                for frame in frames:
                    for _ in range(repeats[written] if writer is not None else 0):
                        writer.write(frame)  # type: ignore[union-attr]
                    written += 1

            try:
                frames = read_animation(source, size)
                self._translate_frames(frames, size, options, emit, info.frames, progress)
            finally:
                if writer is not None:
                    writer.close()
            if written == 0:
                raise InputError("the clip has no frames")
            durations = info.durations_ms[:written]
            duration = sum(durations) / 1000
            note = None
            if gif is not None:
                if output == "gif":
                    data, notes = gif.fit(budget_bytes)
                else:
                    data, notes = gif.encode(), []
                if len(data) <= budget_bytes:
                    out = target.with_suffix(".gif")
                    out.write_bytes(data)
                    width, height = out_size
                    if notes:
                        width, height = _gif_size(data)
                    return ClipResult(
                        out,
                        written,
                        info.fps,
                        duration,
                        width,
                        height,
                        len(data),
                        False,
                        bool(notes),
                        notes,
                        "gif",
                    )
                note = (
                    f"as a GIF it would be {len(data) / MiB:.1f} MiB, "
                    f"over the {budget_bytes / MiB:.1f} MiB limit"
                )
            elif output != "mp4":
                note = "too many frames of this size for a GIF"
            assert writer is not None
            out = target.with_suffix(".mp4")
            report = fit_to_budget(raw, None, out, out_size, info.fps, duration, budget_bytes)
        return ClipResult(
            out,
            written,
            info.fps,
            duration,
            report.width,
            report.height,
            report.bytes,
            False,
            report.quality_reduced,
            report.notes,
            "mp4",
            note,
        )

    def _translate_frames(
        self,
        frames: Iterable[np.ndarray],
        size: tuple[int, int],
        options: TranslateOptions,
        emit: Emit,
        total: int,
        progress: ClipProgress | None,
    ) -> None:
        """Translate frames (H, W, 3) uint8 at `size` in batches; composed batches go to emit.

        Batch n + 1 is decoded and segmented (warm-started from batch n's centroids) while
        the network runs batch n.
        """
        translator = self.translator
        segmenter = translator.segmenter_for(options)
        state: torch.Tensor | None = None
        previous: torch.Tensor | None = None  # the last interpretation written, for `smooth`
        done = 0

        def prepare(batch: list[np.ndarray]) -> _Frames:
            nonlocal state
            photos = torch.from_numpy(np.stack(batch)).to(translator.device)
            photos = photos.permute(0, 3, 1, 2).float().div(255)  # (B, 3, H, W)
            padded, mask = pad_batch(list(photos), translator.model.spec.generator.multiple)
            segmented = segmenter.segment(padded, mask, state)
            new_state = segmented.state
            state = new_state[-1:] if self.stabilize and new_state is not None else None
            top, left = (padded.shape[2] - size[1]) // 2, (padded.shape[3] - size[0]) // 2
            crop = (
                slice(None),
                slice(None),
                slice(top, top + size[1]),
                slice(left, left + size[0]),
            )
            return _Frames(photos, segmented.images, crop)

        def network(frames: _Frames) -> torch.Tensor:
            return translator.interpret(frames.segmentation)

        def finish(frames: _Frames, output: torch.Tensor) -> None:
            nonlocal previous, done
            interpretation = blend_successive(output[frames.crop], previous, self.smooth)
            previous = interpretation[-1]
            chosen = [frames.photos, interpretation]
            if options.panels == 3:
                chosen.insert(1, frames.segmentation[frames.crop])
            emit(_compose(chosen))
            done += len(frames.photos)
            if progress is not None:
                progress(done, max(total, done))

        with torch.inference_mode():
            translator.overlapped(_batches(frames, translator.batch_size), prepare, network, finish)


@dataclass(frozen=True)
class _Frames:
    """A batch of frames, segmented, waiting for the network; `crop` undoes the padding."""

    photos: torch.Tensor
    segmentation: torch.Tensor
    crop: tuple[slice, slice, slice, slice]


def _gif_size(data: bytes) -> tuple[int, int]:
    """A GIF's canvas (width, height), from its header."""
    return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
