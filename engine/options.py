"""A translation's options, checked at the door (apart from the pipelines, so that a command
line checks them before torch and the model load)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MAX_SMOOTH = 0.9  # clips: the most of the previous interpretation blended into the next

Panels = Literal[2, 3]
MIN_SIZE, MAX_SIZE = 64, 2048


@dataclass(frozen=True)
class TranslateOptions:
    """Per-request choices; None means "what the model was trained with"."""

    k: int | None = None
    panels: Panels = 2
    size: int | None = None

    def __post_init__(self) -> None:
        if self.panels not in (2, 3):
            raise ValueError(f"panels must be 2 or 3, got {self.panels}")
        if self.size is not None and not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE}, got {self.size}")
