"""`beautynet translate`'s inputs: files and folders, each checked at the door (its kind,
its size, its header) before torch and the model load."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import EngineError
from engine.inputs import ImageLimits, check_file

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
CLIP_SUFFIXES = {".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v"}
DEFAULT_OUT = Path("beautynet-out")


def collect_inputs(paths: Sequence[Path]) -> Iterator[Path]:
    """Named files as they are; folders searched recursively for image-named files."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in IMAGE_SUFFIXES | CLIP_SUFFIXES
                and not p.name.startswith(".")
            )
        else:
            yield path


@dataclass
class CheckedInputs:
    """The inputs sorted by kind, and those refused with the reason."""

    total: int = 0
    images: list[Path] = field(default_factory=list)
    clips: list[Path] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)


def check_inputs(paths: Sequence[Path], limits: ImageLimits) -> CheckedInputs:
    """Each input's kind by the engine's one rule (content, never name), and each image's
    size and header."""
    checked = CheckedInputs(total=len(paths))
    for path in paths:
        try:
            kind = check_file(path, limits)
        except EngineError as exc:
            checked.failures.append((path, str(exc)))
        except OSError as exc:
            checked.failures.append((path, exc.strerror or "cannot read the file"))
        else:
            (checked.clips if kind == "clip" else checked.images).append(path)
    return checked
