"""The embedded engine: the bot's EngineClient backed by an `engine.core.Engine` in this process.

Every call that touches the network, the decoder or the disk runs in a worker thread
(`loop.run_in_executor`), so the bot's event loop and its gateway heartbeat never block.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from engine.core import Engine
from engine.errors import InputError
from engine.imaging import decode_image, encode_image
from engine.models import ModelEntry
from engine.pipeline import ClipTranslator, TranslateOptions
from engine.segment import ClustersConfig
from engine.training import TrainDefaults
from engine.video import ClipLimits

from .base import (
    ModelInfo,
    ProgressCallback,
    Translated,
    TranslateParams,
)
from .embedded_admin import EmbeddedAdmin, user_errors

log = logging.getLogger(__name__)

T = TypeVar("T")


def options_for(params: TranslateParams) -> TranslateOptions:
    """The engine's per-request options for the bot's parameters."""
    return TranslateOptions(k=params.k, panels=params.panels, size=params.size)


def describe_segmenter(entry: ModelEntry) -> str:
    """'clusters k=7' or 'edges'."""
    config = entry.spec.segmenter
    return f"clusters k={config.k}" if isinstance(config, ClustersConfig) else config.kind


class InProcessEngine(EmbeddedAdmin):
    """EngineClient running the engine in worker threads of this process.

    It also offers model, dataset and training administration (`bot.engine_client.admin`)
    when given the folders for them.
    """

    def __init__(
        self,
        engine: Engine,
        workers: int = 1,
        clip_limits: ClipLimits = ClipLimits(),
        *,
        datasets_dir: Path | None = None,
        runs_dir: Path | None = None,
        train_defaults: TrainDefaults | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.engine = engine
        self.clip_limits = clip_limits
        self.datasets_dir, self.runs_dir = datasets_dir, runs_dir
        self.train_defaults = train_defaults or TrainDefaults()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="engine")

    async def _run(self, func: Callable[..., T], *args: object) -> T:
        """Run func(*args) in the worker pool, translating user errors."""
        loop = asyncio.get_running_loop()
        with user_errors():
            return await loop.run_in_executor(self._pool, functools.partial(func, *args))

    # ---- EngineClient -----------------------------------------------------------------
    async def translate_image(
        self, data: bytes, params: TranslateParams, request_id: str
    ) -> Translated:
        """Decode (with limits), translate and compose one image, off the event loop."""
        log.debug("request %s: image of %d bytes", request_id, len(data))
        return await self._run(self._translate_image, data, params)

    async def translate_clip(
        self,
        data: bytes,
        params: TranslateParams,
        request_id: str,
        budget_bytes: int,
        progress: ProgressCallback | None = None,
    ) -> Translated:
        """Translate a clip into an MP4 of at most budget_bytes, off the event loop."""
        log.debug("request %s: clip of %d bytes", request_id, len(data))
        return await self._run(self._translate_clip, data, params, budget_bytes, progress)

    async def models(self) -> list[ModelInfo]:
        """Every installed model version."""
        return await self._run(self._models)

    async def close(self) -> None:
        """Wait for running work and stop the worker threads."""
        await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(self._pool.shutdown, wait=True)
        )

    # ---- admin (embedded engine only) ---------------------------------------------------
    async def promote(self, name: str, version: int | None = None) -> str:
        """Serve `version` (default: newest) of `name`; returns the served label."""
        return (await self._run(self.engine.registry.promote, name, version)).spec.label

    async def rollback(self, name: str) -> str:
        """Undo the last promotion of `name`; returns the label now served."""
        return (await self._run(self.engine.registry.rollback, name)).spec.label

    async def delete(self, name: str, version: int) -> None:
        """Remove a user model version."""
        await self._run(self.engine.registry.delete, name, version)

    # ---- worker-thread bodies -----------------------------------------------------------
    def _translate_image(self, data: bytes, params: TranslateParams) -> Translated:
        options = options_for(params)
        image = decode_image(data, self.engine.limits)
        translator = self.engine.translator(params.model)
        (result,) = translator.translate([image], options)
        composed = result.compose(options.panels)
        return Translated(
            data=encode_image(composed, "png"),
            filename="beautynet.png",
            model=translator.model.spec.label,
            kind="image",
            width=composed.width,
            height=composed.height,
        )

    def _translate_clip(
        self,
        data: bytes,
        params: TranslateParams,
        budget_bytes: int,
        progress: ProgressCallback | None,
    ) -> Translated:
        if len(data) > self.clip_limits.max_bytes:
            raise InputError(f"the clip is too large ({len(data)} bytes)")
        options = options_for(params)
        translator = self.engine.translator(params.model)
        with tempfile.TemporaryDirectory(prefix="beautynet-bot-") as tmp:
            source, target = Path(tmp) / "input", Path(tmp) / "beautynet.mp4"
            source.write_bytes(data)
            result = ClipTranslator(translator).translate(
                source, target, options, self.clip_limits, budget_bytes, progress
            )
            encoded = target.read_bytes()
        return Translated(
            data=encoded,
            filename="beautynet.mp4",
            model=translator.model.spec.label,
            kind="clip",
            width=result.width,
            height=result.height,
            quality_reduced=result.quality_reduced,
            notes=list(result.notes),
        )

    def _models(self) -> list[ModelInfo]:
        registry = self.engine.registry
        entries = registry.entries()
        if not entries:
            return []
        default = registry.default_name(entries)
        served = {name: registry.current_version(name, entries) for name in registry.names()}
        infos = []
        for entry in entries:
            is_served = served[entry.name] == entry.version
            sheet = entry.sample_sheet
            infos.append(
                ModelInfo(
                    name=entry.name,
                    version=entry.version,
                    description=entry.spec.meta.description,
                    segmenter=describe_segmenter(entry),
                    served=is_served,
                    default=is_served and entry.name == default,
                    sample_sheet=sheet.read_bytes() if sheet else None,
                )
            )
        return infos
