"""An input file checked at the engine's door before any model loads: its kind by the one
rule (`engine.video.kind`), and an image's size and header. Nothing heavy is imported here,
so that a command line refuses a bad file at once."""

from __future__ import annotations

from pathlib import Path

from engine.imaging import ImageLimits, check_image_file
from engine.video.kind import Kind, kind_of

__all__ = ["ImageLimits", "Kind", "check_file"]


def check_file(path: Path, limits: ImageLimits) -> Kind:
    """'clip' or 'image'; an image whose size or header is wrong raises InputError, and a
    file that cannot be read OSError. A clip's own limits are checked when it is read."""
    if kind_of(path) == "clip":
        return "clip"
    check_image_file(path, limits)
    return "image"
