"""Stream frames in and out of ffmpeg: decoded by moviepy, encoded by imageio-ffmpeg."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from engine.errors import InputError


def even_fit(width: int, height: int, size: int) -> tuple[int, int]:
    """(w, h) with the long side `size`, aspect kept, both even (H.264 with yuv420p needs it)."""
    scale = size / max(width, height)
    return (max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2))


def read_frames(path: Path, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """(H, W, 3) uint8 frames, scaled by ffmpeg to `size` (w, h) while decoding."""
    # Imported here: moviepy takes a tenth of a second, which every command checking an
    # input's kind would pay, and only reading a clip needs it.
    from moviepy.video.io.ffmpeg_reader import FFMPEG_VideoReader

    width, height = size
    try:
        reader = FFMPEG_VideoReader(
            str(path), decode_file=False, target_resolution=(width, height), resize_algo="area"
        )
    except OSError as exc:
        raise InputError("could not decode the clip") from exc
    try:
        yield reader.last_read  # moviepy pre-reads the first frame when it opens the file
        for _ in range(1, reader.n_frames):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                frame = reader.read_frame()
            if caught:  # a short read: the stream ended before its header said
                return
            yield frame
    finally:
        reader.close()


class FrameWriter:
    """Encode RGB frames to H.264 as they come (near-lossless; the final pass sets the size)."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float) -> None:
        self.frames = 0
        self._writer = imageio_ffmpeg.write_frames(
            str(path),
            size,
            fps=fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            macro_block_size=2,
            quality=None,
            output_params=["-crf", "16", "-preset", "veryfast"],
            ffmpeg_log_level="error",
        )
        self._writer.send(None)

    def write(self, frame: np.ndarray) -> None:
        self._writer.send(np.ascontiguousarray(frame))
        self.frames += 1

    def write_batch(self, frames: np.ndarray) -> None:
        """(B, H, W, 3) uint8 frames, in order."""
        for frame in frames:
            self.write(frame)

    def close(self) -> None:
        self._writer.close()
