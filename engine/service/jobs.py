"""Clip jobs: started by one request, followed by polling, their result fetched once done."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections import OrderedDict
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine.core import Engine
from engine.errors import EngineError
from engine.models import ModelSpec
from engine.pipeline import ClipResult, TranslateOptions

from .batching import QueueFullError

log = logging.getLogger(__name__)

JobState = Literal["running", "done", "failed"]


@dataclass
class ClipJob:
    """One clip translation and what is known about it so far."""

    id: str
    digest: str
    folder: Path
    state: JobState = "running"
    done: int = 0
    total: int = 0
    error: str | None = None
    model: ModelSpec | None = None  # known once the work starts
    result: ClipResult | None = None
    task: asyncio.Future[None] | None = field(default=None, repr=False)

    def describe(self) -> dict[str, Any]:
        """The job as JSON."""
        info: dict[str, Any] = {
            "id": self.id,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "error": self.error,
            "model": self.model.label if self.model else "",
            "model_name": self.model.meta.name if self.model else None,
            "model_version": self.model.meta.version if self.model else None,
        }
        if self.result is not None:
            info.update(
                width=self.result.width,
                height=self.result.height,
                bytes=self.result.bytes,
                quality_reduced=self.result.quality_reduced,
                notes=list(self.result.notes),
                format=self.result.format,
                format_note=self.result.format_note,
                frames=self.result.frames,
                duration=self.result.duration,
            )
        return info


class ClipJobs:
    """At most `capacity` jobs are kept; finished ones are dropped oldest first."""

    def __init__(self, engine: Engine, executor: Executor, capacity: int):
        self.engine, self.executor, self.capacity = engine, executor, capacity
        self._jobs: OrderedDict[str, ClipJob] = OrderedDict()

    def get(self, job_id: str) -> ClipJob | None:
        """The job with this id, if it is still kept."""
        return self._jobs.get(job_id)

    @property
    def running(self) -> int:
        """Jobs not finished yet."""
        return sum(job.state == "running" for job in self._jobs.values())

    def start(
        self,
        job_id: str,
        digest: str,
        data: bytes,
        model: str | None,
        options: TranslateOptions,
        budget_bytes: int,
        max_seconds: float | None = None,
    ) -> ClipJob:
        """A new job (or the existing one with this id) translating `data`: an MP4, or a GIF
        for an animation when it fits budget_bytes."""
        if job_id in self._jobs:
            return self._jobs[job_id]
        self._make_room()
        job = ClipJob(job_id, digest, Path(tempfile.mkdtemp(prefix="beautynet-job-")))
        self._jobs[job_id] = job
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int) -> None:
            loop.call_soon_threadsafe(self._progress, job, done, total)

        job.task = loop.run_in_executor(
            self.executor,
            self._work,
            job,
            data,
            model,
            options,
            budget_bytes,
            max_seconds,
            progress,
        )
        job.task.add_done_callback(lambda task: self._finish(job, task))
        return job

    def _make_room(self) -> None:
        while len(self._jobs) >= self.capacity:
            finished = [k for k, job in self._jobs.items() if job.state != "running"]
            if not finished:
                raise QueueFullError(retry_after_s=5)
            self._drop(finished[0])

    def _drop(self, job_id: str) -> None:
        job = self._jobs.pop(job_id)
        shutil.rmtree(job.folder, ignore_errors=True)

    @staticmethod
    def _progress(job: ClipJob, done: int, total: int) -> None:
        job.done, job.total = done, total

    def _work(
        self,
        job: ClipJob,
        data: bytes,
        model: str | None,
        options: TranslateOptions,
        budget_bytes: int,
        max_seconds: float | None,
        progress: Any,
    ) -> None:
        translator = self.engine.translator(model)
        job.model = translator.model.spec
        job.result = self.engine.translate_clip(
            data, translator, options, job.folder, budget_bytes, progress, "auto", max_seconds
        )

    @staticmethod
    def _finish(job: ClipJob, task: asyncio.Future[None]) -> None:
        if task.cancelled():
            job.state, job.error = "failed", "cancelled"
            return
        exc = task.exception()
        if exc is None:
            job.state = "done"
            return
        job.state = "failed"
        job.error = str(exc) if isinstance(exc, EngineError | ValueError) else "internal error"
        if job.error == "internal error":
            log.error("clip job %s failed", job.id, exc_info=exc)

    def close(self) -> None:
        """Remove every job's files."""
        for job_id in list(self._jobs):
            self._drop(job_id)
