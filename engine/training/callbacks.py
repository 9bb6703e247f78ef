"""How the trainer reports progress: the CLI's progress bar and the bot's messages hook in here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Progress:
    """A snapshot after a training step."""

    step: int
    total_steps: int | None  # None when the run is bounded by time only
    epoch: int
    elapsed_s: float
    eta_s: float | None
    images_per_s: float
    losses: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Validation:
    """Held-out metrics at the end of an epoch, and the sample sheet drawn then."""

    epoch: int
    step: int
    metrics: dict[str, float]
    sample_sheet: Path


class TrainerCallback:
    """Override what you need; every hook runs on the main process only."""

    def on_step(self, progress: Progress) -> None:
        """After every optimisation step."""

    def on_validation(self, validation: Validation) -> None:
        """After each epoch's validation."""

    def on_checkpoint(self, path: Path, step: int) -> None:
        """After a checkpoint was written."""
