"""The one rule for what a file is: a clip (a video container, or an animated GIF, WebP or
PNG) or an image, by its bytes, never its name. The command line, the engine service, the
page (through the service) and the bot (through its engine client) all ask this rule."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from .animation import file_head, is_animation

Kind = Literal["image", "clip"]


def is_container(data: bytes | Path) -> bool:
    """Whether these bytes (or this file) are a video container (MP4/MOV, Matroska/WebM, AVI)."""
    head = file_head(data)
    if head[4:8] == b"ftyp" or head.startswith(b"\x1a\x45\xdf\xa3"):
        return True
    return head.startswith(b"RIFF") and head[8:12] == b"AVI "


def is_clip(data: bytes | Path) -> bool:
    """A video container, or an animation (more than one frame): translated frame by frame."""
    return is_container(data) or is_animation(data)


def kind_of(data: bytes | Path) -> Kind:
    """'clip' or 'image', by `is_clip`."""
    return "clip" if is_clip(data) else "image"
