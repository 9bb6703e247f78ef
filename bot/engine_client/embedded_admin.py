"""Datasets and training for the embedded engine (mixed into InProcessEngine)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from engine.core import Engine
from engine.datasets import MemoryFile, add_sources, image_paths, list_datasets, load_manifest
from engine.errors import EngineError
from engine.training import (
    Progress,
    TrainConfig,
    TrainDefaults,
    TrainerCallback,
    TrainingData,
    Validation,
    make_train_config,
    run_training,
)

from .admin import DatasetInfo, DatasetReport, TrainDone, TrainRequest, TrainStatus
from .base import EngineUserError

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Relay(TrainerCallback):
    """Trainer callbacks -> TrainStatus snapshots for the bot."""

    def __init__(self, progress: Callable[[TrainStatus], None]) -> None:
        self.progress = progress

    def on_step(self, progress: Progress) -> None:
        self.progress(
            TrainStatus(
                progress.step, progress.total_steps, progress.epoch, progress.eta_s,
                dict(progress.losses),
            )
        )  # fmt: skip

    def on_validation(self, validation: Validation) -> None:
        sheet = validation.sample_sheet.read_bytes() if validation.sample_sheet.is_file() else None
        self.progress(TrainStatus(validation.step, None, validation.epoch, None, {}, sheet))


class EmbeddedAdmin:
    """Datasets and training on this machine's disk and device."""

    engine: Engine
    datasets_dir: Path | None
    runs_dir: Path | None
    train_defaults: TrainDefaults

    def _dirs(self) -> tuple[Path, Path]:
        if self.datasets_dir is None or self.runs_dir is None:
            raise EngineUserError("datasets and training are not configured for this engine")
        return self.datasets_dir, self.runs_dir

    async def add_images(self, name: str, files: list[tuple[str, bytes]]) -> DatasetReport:
        """Decode, deduplicate and store images (untrusted bytes) in dataset `name`."""
        datasets, _ = self._dirs()
        sources = [MemoryFile(filename, data) for filename, data in files]
        limits = self.engine.limits
        report = await in_thread(add_sources, datasets, name, sources, limits=limits)
        return DatasetReport(
            name=report.name,
            added=len(report.added),
            duplicates=len(report.duplicates),
            rejected=[(r.source, r.reason) for r in report.rejected],
            total_images=report.total_images,
        )

    async def datasets(self) -> list[DatasetInfo]:
        """Every dataset."""
        datasets, _ = self._dirs()
        manifests = await in_thread(list_datasets, datasets)
        return [DatasetInfo(m.name, len(m.entries), m.total_bytes, m.updated) for m in manifests]

    async def train(
        self,
        request: TrainRequest,
        progress: Callable[[TrainStatus], None],
        stop: threading.Event,
    ) -> TrainDone:
        """Train in a thread of its own (image requests keep their worker)."""
        with user_errors():
            config = self.train_config(request)
        return await in_thread(self._train, config, request, progress, stop)

    def train_config(self, request: TrainRequest) -> TrainConfig:
        """The run's hyper-parameters; ValueError names a bad argument."""
        return make_train_config(
            request.name, request.segmenter, request.k, self.train_defaults, request.time_budget
        )

    def _train(
        self,
        config: TrainConfig,
        request: TrainRequest,
        progress: Callable[[TrainStatus], None],
        stop: threading.Event,
    ) -> TrainDone:
        datasets, runs = self._dirs()
        manifest = load_manifest(datasets, request.dataset)
        paths = image_paths(datasets, request.dataset)
        data = TrainingData(paths, f"dataset {manifest.name}: {len(paths)} images")
        result = run_training(
            config, data, runs / request.name, self.engine.registry, self.engine.device,
            callbacks=[_Relay(progress)], stop_event=stop, trained_by="discord",
        )  # fmt: skip
        sheet = result.outcome.sample_sheet
        return TrainDone(
            status=result.outcome.status,
            model=result.model.spec.label if result.model else None,
            sample_sheet=sheet.read_bytes() if sheet and sheet.is_file() else None,
        )


async def in_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking admin call in a thread; engine errors become EngineUserError."""
    with user_errors():
        return await asyncio.to_thread(func, *args, **kwargs)


@contextmanager
def user_errors() -> Iterator[None]:
    """Engine errors (short, user-safe messages) and ValueError become EngineUserError."""
    try:
        yield
    except (EngineError, ValueError) as exc:
        raise EngineUserError(str(exc)) from exc
