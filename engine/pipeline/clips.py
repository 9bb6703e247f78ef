"""The clip path: probe -> stream frames in batches -> segment -> translate -> encode -> fit.

Memory stays bounded: only one batch of frames is held at a time, and frames are encoded
as they come. Colours stay stable over time because each frame's k-means starts from
the previous frame's centroids, and the generator runs without dropout noise. On request,
successive interpretations are also blended (`smooth`), as Learning to See did live.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.errors import InputError
from engine.segment import Segmenter
from engine.video import ClipLimits, FrameWriter, even_fit, fit_to_budget, probe_clip, read_frames

from .batching import pad_batch
from .images import ImageTranslator, Panels, TranslateOptions

DEFAULT_BUDGET_BYTES = 10 * 1024 * 1024  # Discord's default upload limit
GAP = 4
MAX_SMOOTH = 0.9
ClipProgress = Callable[[int, int], None]  # (frames done, frames in total)


@dataclass(frozen=True)
class ClipResult:
    """The side-by-side clip that was written, and whether quality had to drop to fit."""

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
    ) -> ClipResult:
        """Write original | interpretation (| segmentation) of `source` to `target` (MP4)."""
        info = probe_clip(source, limits)
        segmenter = self.translator.segmenter_for(options)
        size = even_fit(info.width, info.height, options.size or self.translator.model.spec.size)
        panel_count = int(options.panels)
        out_size = (panel_count * size[0] + (panel_count - 1) * GAP, size[1])
        with tempfile.TemporaryDirectory(prefix="beautynet-clip-") as tmp:
            raw = Path(tmp) / "frames.mp4"
            writer = FrameWriter(raw, out_size, info.fps)
            try:
                self._encode_frames(
                    source, size, segmenter, options.panels, writer, info.frames, progress
                )
            finally:
                writer.close()
            if writer.frames == 0:
                raise InputError("the clip has no frames")
            duration = writer.frames / info.fps
            audio = source if info.has_audio else None
            report = fit_to_budget(raw, audio, target, out_size, info.fps, duration, budget_bytes)
        return ClipResult(
            target,
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

    def _encode_frames(
        self,
        source: Path,
        size: tuple[int, int],
        segmenter: Segmenter,
        panels: Panels,
        writer: FrameWriter,
        total: int,
        progress: ClipProgress | None,
    ) -> None:
        translator = self.translator
        state = None
        previous = None  # the last interpretation written, for `smooth`
        frames = read_frames(source, size)
        for batch in _batches(frames, translator.batch_size):
            photos = torch.from_numpy(np.stack(batch)).to(translator.device)
            photos = photos.permute(0, 3, 1, 2).float().div(255)  # (B, 3, H, W)
            padded, mask = pad_batch(list(photos), translator.model.spec.generator.multiple)
            segmentation, output, new_state = translator.run(padded, mask, segmenter, state)
            state = new_state[-1:] if self.stabilize and new_state is not None else None
            top = (padded.shape[2] - size[1]) // 2
            left = (padded.shape[3] - size[0]) // 2
            crop = (
                slice(None),
                slice(None),
                slice(top, top + size[1]),
                slice(left, left + size[0]),
            )
            interpretation = blend_successive(output[crop], previous, self.smooth)
            previous = interpretation[-1]
            chosen = (
                [photos, interpretation]
                if panels == 2
                else [photos, segmentation[crop], interpretation]
            )
            for frame in _compose(chosen):
                writer.write(frame)
            if progress is not None:
                progress(writer.frames, max(total, writer.frames))
