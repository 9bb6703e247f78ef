"""Clip input and output through ffmpeg: probing with limits, frame streams, the final fit;
animations (GIF, WebP, APNG) through Pillow; and the one rule for what is a clip."""

from .animation import AnimationInfo, GifFrames, is_animation, probe_animation, read_animation
from .fit import FitReport, fit_to_budget
from .frames import FrameWriter, even_fit, read_frames
from .kind import Kind, is_clip, is_container, kind_of
from .probe import ClipInfo, ClipLimits, probe_clip

__all__ = [
    "AnimationInfo",
    "ClipInfo",
    "ClipLimits",
    "FitReport",
    "FrameWriter",
    "GifFrames",
    "Kind",
    "even_fit",
    "fit_to_budget",
    "is_animation",
    "is_clip",
    "is_container",
    "kind_of",
    "probe_animation",
    "probe_clip",
    "read_animation",
    "read_frames",
]
