"""Model, dataset and training administration: part of every engine client (`EngineClient`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable


@runtime_checkable
class ModelAdmin(Protocol):
    """Promote, roll back and delete model versions."""

    async def promote(self, name: str, version: int | None = None) -> str:
        """Serve `version` (default: newest) of `name`; returns the served label."""
        ...

    async def rollback(self, name: str) -> str:
        """Undo the last promotion of `name`; returns the label now served."""
        ...

    async def delete(self, name: str, version: int) -> None:
        """Remove a user model version."""
        ...


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset as the bot lists it."""

    name: str
    images: int
    bytes: int
    updated: str


@dataclass(frozen=True)
class DatasetReport:
    """What adding images to a dataset did; rejected: (source, reason)."""

    name: str
    added: int
    duplicates: int
    rejected: list[tuple[str, str]]
    total_images: int


@runtime_checkable
class DatasetAdmin(Protocol):
    """Build and list training datasets."""

    async def add_images(self, name: str, files: list[tuple[str, bytes]]) -> DatasetReport:
        """Decode, deduplicate and store images (untrusted bytes) in dataset `name`."""
        ...

    async def datasets(self) -> list[DatasetInfo]:
        """Every dataset."""
        ...


@dataclass(frozen=True)
class TrainRequest:
    """What an admin asked to train."""

    dataset: str
    name: str
    segmenter: Literal["clusters", "edges"] = "clusters"
    k: int = 7
    time_budget: str | None = None  # e.g. "90m" or "2h"; None: the configured epochs


@dataclass(frozen=True)
class TrainStatus:
    """A progress snapshot; sample_sheet is set after a validation."""

    step: int
    total_steps: int | None
    epoch: int
    eta_s: float | None
    losses: dict[str, float] = field(default_factory=dict)
    sample_sheet: bytes | None = None


@dataclass(frozen=True)
class TrainDone:
    """How a run ended: 'finished' (model is the registered label, version its number) or not."""

    status: str
    model: str | None
    sample_sheet: bytes | None = None
    version: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # held-out L1, PSNR, SSIM


@runtime_checkable
class TrainingAdmin(Protocol):
    """Train a model version from a dataset."""

    async def check_training(self, request: TrainRequest) -> None:
        """Refuse now, before anything starts, what the engine's door would refuse (a name
        that breaks the engine's name rule, an unknown dataset, a bad option):
        EngineUserError says why."""
        ...

    async def train(
        self,
        request: TrainRequest,
        progress: Callable[[TrainStatus], None],
        stop: threading.Event,
    ) -> TrainDone:
        """Train (progress is called from a worker thread); `stop` ends the run early."""
        ...
