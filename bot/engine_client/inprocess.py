"""The embedded engine: the bot's EngineClient over an `engine.core.Engine` in this process.

A thin adapter: every operation is the engine's own; this class runs it off the event loop
(image work in its worker threads, datasets and training in threads of their own, so the
bot's gateway heartbeat never blocks) and turns the engine's answers into the bot's types.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self, TypeVar

from engine.core import Engine, TrainingProgress
from engine.errors import EngineError
from engine.models import ModelSpec
from engine.pipeline import TranslateOptions
from engine.training import TrainDefaults
from engine.video import ClipLimits

from .admin import DatasetInfo, DatasetReport, TrainDone, TrainRequest, TrainStatus
from .base import (
    DEFAULT_BUDGET_BYTES,
    EngineUserError,
    ModelId,
    ModelInfo,
    ProgressCallback,
    Translated,
    TranslateParams,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


def options_for(params: TranslateParams) -> TranslateOptions:
    """The engine's per-request options for the bot's parameters."""
    return TranslateOptions(k=params.k, panels=params.panels, size=params.size)


def model_id(spec: ModelSpec) -> ModelId:
    """The bot's name for a model version."""
    return ModelId(spec.meta.name, spec.meta.version)


@contextmanager
def user_errors() -> Iterator[None]:
    """Engine errors (short, user-safe messages) and ValueError become EngineUserError."""
    try:
        yield
    except (EngineError, ValueError) as exc:
        raise EngineUserError(str(exc)) from exc


async def in_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking call in a thread of its own; engine errors become EngineUserError."""
    with user_errors():
        return await asyncio.to_thread(func, *args, **kwargs)


class InProcessEngine:
    """EngineClient running the engine in worker threads of this process.

    It also offers model, dataset and training administration (`bot.engine_client.admin`);
    datasets and training need the engine's folders (given to it, or here).
    """

    def __init__(
        self,
        engine: Engine,
        workers: int = 1,
        clip_limits: ClipLimits | None = None,
        *,
        datasets_dir: Path | None = None,
        runs_dir: Path | None = None,
        train_defaults: TrainDefaults | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.engine = engine.configured(
            clip_limits=clip_limits,
            datasets_dir=datasets_dir,
            runs_dir=runs_dir,
            train_defaults=train_defaults,
        )
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="engine")

    async def _run(self, func: Callable[..., T], *args: object) -> T:
        """Run func(*args) in the worker pool, translating user errors."""
        loop = asyncio.get_running_loop()
        with user_errors():
            return await loop.run_in_executor(self._pool, functools.partial(func, *args))

    # ---- EngineClient -----------------------------------------------------------------
    async def translate(
        self,
        data: bytes,
        params: TranslateParams,
        request_id: str,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        progress: ProgressCallback | None = None,
    ) -> Translated:
        """A still image or a clip (the engine's rule) within budget_bytes, off the event loop."""
        log.debug("request %s: %d bytes", request_id, len(data))
        return await self._run(self._translate, data, params, budget_bytes, progress)

    async def compare(
        self, data: bytes, models: list[str], request_id: str, budget_bytes: int
    ) -> Translated:
        """One still image through each model, in one labelled grid, off the event loop."""
        log.debug("request %s: compare %d models", request_id, len(models))
        result = await self._run(self.engine.compare, data, models, budget_bytes)
        return Translated(
            result.data,
            "compare.png",
            None,
            "image",
            result.width,
            result.height,
            result.quality_reduced,
            list(result.notes),
        )

    async def models(self) -> list[ModelInfo]:
        """Every installed model version."""
        return await self._run(self._models)

    async def runtimes(self) -> list[str]:
        """How each loaded model runs."""
        return self.engine.runtime_lines()

    async def start(self) -> Self:
        """Load the default model in a worker while the bot connects: its runtime is built
        and its batch size measured before the first image, and the choice is logged."""
        self._pool.submit(self._load_default_model)
        return self

    def _load_default_model(self) -> None:
        try:
            translator = self.engine.translator()
        except Exception as exc:  # no model yet, or an unreadable one: the first job says so
            log.info("no default model loaded at start: %s", exc)
            return
        log.info("engine runtime: %s", translator.describe())

    async def close(self) -> None:
        """Wait for running work and stop the worker threads."""
        await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(self._pool.shutdown, wait=True)
        )

    # ---- ModelAdmin ---------------------------------------------------------------------
    async def promote(self, name: str, version: int | None = None) -> str:
        """Serve `version` (default: newest) of `name`; returns the served label."""
        return (await self._run(self.engine.promote, name, version)).spec.label

    async def rollback(self, name: str) -> str:
        """Undo the last promotion of `name`; returns the label now served."""
        return (await self._run(self.engine.rollback, name)).spec.label

    async def delete(self, name: str, version: int) -> None:
        """Remove a user model version."""
        await self._run(self.engine.delete, name, version)

    # ---- DatasetAdmin -------------------------------------------------------------------
    async def add_images(self, name: str, files: list[tuple[str, bytes]]) -> DatasetReport:
        """Decode, deduplicate and store images (untrusted bytes) in dataset `name`."""
        report = await in_thread(self.engine.add_images, name, files)
        return DatasetReport(
            name=report.name,
            added=len(report.added),
            duplicates=len(report.duplicates),
            rejected=[(r.source, r.reason) for r in report.rejected],
            total_images=report.total_images,
        )

    async def datasets(self) -> list[DatasetInfo]:
        """Every dataset."""
        manifests = await in_thread(self.engine.datasets)
        return [DatasetInfo(m.name, len(m.entries), m.total_bytes, m.updated) for m in manifests]

    # ---- TrainingAdmin ------------------------------------------------------------------
    async def check_training(self, request: TrainRequest) -> None:
        """The engine's own checks (its name rule, the options, the dataset); nothing starts."""
        await in_thread(self._check_training, request)

    def _check_training(self, request: TrainRequest) -> None:
        self.engine.train_config(request.name, request.segmenter, request.k, request.time_budget)
        self.engine.dataset(request.dataset)

    async def train(
        self,
        request: TrainRequest,
        progress: Callable[[TrainStatus], None],
        stop: threading.Event,
    ) -> TrainDone:
        """Train in a thread of its own (image requests keep their worker)."""
        with user_errors():
            config = self.engine.train_config(
                request.name, request.segmenter, request.k, request.time_budget
            )

        def relay(snapshot: TrainingProgress) -> None:
            progress(TrainStatus(**vars(snapshot)))

        result = await in_thread(
            self.engine.train,
            request.dataset,
            config,
            trained_by="discord",
            progress=relay,
            stop=stop,
        )
        sheet = result.outcome.sample_sheet
        return TrainDone(
            status=result.outcome.status,
            model=result.model.spec.label if result.model else None,
            sample_sheet=sheet.read_bytes() if sheet and sheet.is_file() else None,
            version=result.model.version if result.model else None,
            metrics=dict(result.outcome.metrics),
        )

    # ---- worker-thread bodies -----------------------------------------------------------
    def _translate(
        self,
        data: bytes,
        params: TranslateParams,
        budget_bytes: int,
        progress: ProgressCallback | None,
    ) -> Translated:
        if self.engine.kind(data) == "clip":
            return self._translate_clip(data, params, budget_bytes, progress)
        return self._translate_image(data, params, budget_bytes)

    def _translate_image(
        self, data: bytes, params: TranslateParams, budget_bytes: int
    ) -> Translated:
        options = options_for(params)
        result = self.engine.translate_bytes(data, params.model, options, "png", budget_bytes)
        return Translated(
            result.data,
            "beautynet.png",
            model_id(result.model),
            "image",
            result.width,
            result.height,
            result.quality_reduced,
            list(result.notes),
            panel=result.panel,
        )

    def _translate_clip(
        self,
        data: bytes,
        params: TranslateParams,
        budget_bytes: int,
        progress: ProgressCallback | None,
    ) -> Translated:
        translator = self.engine.translator(params.model)
        with tempfile.TemporaryDirectory(prefix="beautynet-bot-") as tmp:
            result = self.engine.translate_clip(
                data,
                translator,
                options_for(params),
                Path(tmp),
                budget_bytes,
                progress,
                "auto",
                params.max_seconds,
            )
            encoded = result.path.read_bytes()
        return Translated(
            data=encoded,
            filename=f"beautynet.{result.format}",
            model=model_id(translator.model.spec),
            kind="clip",
            width=result.width,
            height=result.height,
            quality_reduced=result.quality_reduced,
            notes=list(result.notes),
            duration_s=result.duration,
            format_note=result.format_note,
        )

    def _models(self) -> list[ModelInfo]:
        infos = []
        for version in self.engine.model_versions():
            entry, sheet = version.entry, version.entry.sample_sheet
            infos.append(
                ModelInfo(
                    name=entry.name,
                    version=entry.version,
                    description=entry.spec.meta.description,
                    segmenter=version.segmenter,
                    served=version.served,
                    default=version.default,
                    sample_sheet=sheet.read_bytes() if sheet else None,
                )
            )
        return infos
