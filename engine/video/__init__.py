"""Clip input and output through ffmpeg: probing with limits, frame streams, the final fit."""

from .fit import FitReport, fit_to_budget
from .frames import FrameWriter, even_fit, read_frames
from .probe import ClipInfo, ClipLimits, is_clip, probe_clip

__all__ = [
    "ClipInfo",
    "ClipLimits",
    "FitReport",
    "FrameWriter",
    "even_fit",
    "fit_to_budget",
    "is_clip",
    "probe_clip",
    "read_frames",
]
