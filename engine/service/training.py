"""Training jobs over HTTP: one run at a time, followed by polling, stopped on request."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from engine.core import Engine, TrainingProgress
from engine.errors import EngineError
from engine.training import TrainConfig

from .batching import QueueFullError

log = logging.getLogger(__name__)


def train_config(fields: dict[str, str], engine: Engine) -> TrainConfig:
    """The run's hyper-parameters from form fields; ValueError names a bad one (the name by
    the one rule of `engine.names`, in `Engine.train_config`)."""
    name = fields.get("name", "").strip()
    if not name:
        raise ValueError("name is required")
    kind = fields.get("segmenter", "clusters")
    k = fields.get("k", "7").strip()
    if not k.isdigit():
        raise ValueError(f"k must be a whole number, got {k!r}")
    budget = fields.get("time_budget", "").strip() or None
    return engine.train_config(name, kind, int(k), budget)


@dataclass
class TrainJob:
    """One run and its latest progress."""

    id: str
    dataset: str
    config: TrainConfig
    state: str = "running"  # then the run's status (finished, cancelled...) or failed
    step: int = 0
    total_steps: int | None = None
    epoch: int = 0
    eta_s: float | None = None
    losses: dict[str, float] = field(default_factory=dict)
    sheet: bytes | None = None
    sheets: int = 0  # how many sample sheets so far (clients fetch each new one)
    model: str | None = None
    version: int | None = None  # of the registered model
    metrics: dict[str, float] = field(default_factory=dict)  # held-out, at the end
    error: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> dict[str, Any]:
        """The job as JSON."""
        return {
            "id": self.id,
            "dataset": self.dataset,
            "name": self.config.model_name,
            "state": self.state,
            "step": self.step,
            "total_steps": self.total_steps,
            "epoch": self.epoch,
            "eta_s": self.eta_s,
            "losses": self.losses,
            "sheets": self.sheets,
            "model": self.model,
            "version": self.version,
            "metrics": self.metrics,
            "error": self.error,
        }


class TrainJobs:
    """At most one run at a time; the last `capacity` jobs are kept."""

    def __init__(self, engine: Engine, executor: Executor, capacity: int = 8) -> None:
        self.engine, self.executor, self.capacity = engine, executor, capacity
        self._jobs: OrderedDict[str, TrainJob] = OrderedDict()

    def get(self, job_id: str) -> TrainJob | None:
        """The job with this id, if it is still kept."""
        return self._jobs.get(job_id)

    def check(self, dataset: str) -> None:
        """Refuse now what a start would refuse: no training here, or an unknown dataset."""
        self.engine.runs_folder()
        self.engine.dataset(dataset)

    def start(self, job_id: str, dataset: str, config: TrainConfig) -> TrainJob:
        """A new run (or the existing job with this id)."""
        if job_id in self._jobs:
            return self._jobs[job_id]
        if any(job.state == "running" for job in self._jobs.values()):
            raise QueueFullError(retry_after_s=60)
        self.check(dataset)
        job = TrainJob(job_id, dataset, config)
        self._jobs[job_id] = job
        while len(self._jobs) > self.capacity:
            self._jobs.popitem(last=False)
        future = asyncio.get_running_loop().run_in_executor(self.executor, self._run, job)
        future.add_done_callback(lambda done: self._finish(job, done))
        return job

    def _run(self, job: TrainJob) -> None:
        def relay(snapshot: TrainingProgress) -> None:
            if snapshot.sample_sheet is not None:
                job.sheet, job.sheets = snapshot.sample_sheet, job.sheets + 1
                return
            job.step, job.total_steps, job.epoch = (
                snapshot.step,
                snapshot.total_steps,
                snapshot.epoch,
            )
            job.eta_s, job.losses = snapshot.eta_s, snapshot.losses

        result = self.engine.train(
            job.dataset, job.config, trained_by="engine service", progress=relay, stop=job.stop
        )
        job.model = result.model.spec.label if result.model else None
        job.version = result.model.version if result.model else None
        job.metrics = dict(result.outcome.metrics)
        job.state = result.outcome.status

    @staticmethod
    def _finish(job: TrainJob, future: asyncio.Future[None]) -> None:
        exc = None if future.cancelled() else future.exception()
        if future.cancelled() or exc is not None:
            job.state = "failed"
            job.error = str(exc) if isinstance(exc, EngineError | ValueError) else "internal error"
            if job.error == "internal error":
                log.error("training %s failed", job.id, exc_info=exc)

    def stop_all(self) -> None:
        """Ask every running job to stop."""
        for job in self._jobs.values():
            job.stop.set()
