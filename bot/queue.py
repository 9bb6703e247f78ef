"""A bounded, fair job queue: one job per user at a time, served in turn, with a cooldown."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.errors import BusyError, seconds_text

log = logging.getLogger(__name__)

Clock = Callable[[], float]
DEFAULT_JOB_SECONDS = 5.0


@dataclass(eq=False)
class Job:
    """One unit of work for one user; await `result` (or watch `started`)."""

    user_id: int
    work: Callable[[], Awaitable[Any]]
    result: asyncio.Future[Any] = field(default_factory=asyncio.Future)
    started: asyncio.Event = field(default_factory=asyncio.Event)


class FairQueue:
    """Admits at most `capacity` jobs, one per user, and runs them on `workers` tasks.

    With one job per user, arrival order is round-robin over users; a user who just
    submitted waits `cooldown_s` before the next submission is admitted.
    """

    def __init__(
        self, capacity: int, cooldown_s: float, workers: int = 1, clock: Clock = time.monotonic
    ) -> None:
        if capacity < 1 or workers < 1 or cooldown_s < 0:
            raise ValueError(f"capacity={capacity}, workers={workers}, cooldown_s={cooldown_s}")
        self.capacity, self.cooldown_s, self.workers, self.clock = (
            capacity, cooldown_s, workers, clock,
        )  # fmt: skip
        self._waiting: deque[Job] = deque()
        self._running: set[Job] = set()
        self._last_submit: dict[int, float] = {}
        self._durations: deque[float] = deque(maxlen=20)
        self._ready = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._empty = asyncio.Event()
        self._empty.set()

    # ---- admission ---------------------------------------------------------------------
    def check(self, user_id: int) -> None:
        """Raise BusyError when this user's job would not be admitted now."""
        if any(job.user_id == user_id for job in (*self._waiting, *self._running)):
            raise BusyError("You already have a job in the queue; wait for it to finish.")
        since = self.clock() - self._last_submit.get(user_id, float("-inf"))
        if since < self.cooldown_s:
            wait = self.cooldown_s - since
            raise BusyError(f"Slow down; try again in {seconds_text(wait)}.", wait)
        if len(self) >= self.capacity:
            wait = self.estimated_wait()
            raise BusyError(f"I'm busy; try again in {seconds_text(wait)}.", wait)

    def submit(self, user_id: int, work: Callable[[], Awaitable[Any]]) -> Job:
        """Queue `work` for `user_id` (after `check`); raises BusyError when not admitted."""
        self.check(user_id)
        job = Job(user_id, work)
        self._waiting.append(job)
        self._empty.clear()
        self._last_submit[user_id] = self.clock()
        asyncio.get_running_loop().create_task(self._wake())
        return job

    def position(self, job: Job) -> int:
        """0 while running, else 1 + the number of jobs ahead of it."""
        if job in self._running or job.result.done():
            return 0
        return self._waiting.index(job) + 1 if job in self._waiting else 0

    def estimated_wait(self) -> float:
        """Seconds until a slot frees up, from recent job durations."""
        typical = sum(self._durations) / len(self._durations) if self._durations else None
        per_job = typical or DEFAULT_JOB_SECONDS
        ahead = max(1, len(self) - self.capacity + 1)
        return per_job * ahead / self.workers

    async def join(self) -> None:
        """Wait until no job is waiting or running."""
        await self._empty.wait()

    def __len__(self) -> int:
        return len(self._waiting) + len(self._running)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def running(self) -> int:
        return len(self._running)

    # ---- workers ---------------------------------------------------------------------
    async def start(self) -> None:
        """Start the worker tasks."""
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._worker(i)) for i in range(self.workers)]

    async def close(self) -> None:
        """Stop the workers; waiting jobs are cancelled."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while self._waiting:
            self._waiting.popleft().result.cancel()

    async def _wake(self) -> None:
        async with self._ready:
            self._ready.notify()

    async def _worker(self, index: int) -> None:
        while True:
            async with self._ready:
                await self._ready.wait_for(lambda: bool(self._waiting))
                job = self._waiting.popleft()
                self._running.add(job)
            await self._run(job)

    async def _run(self, job: Job) -> None:
        started = self.clock()
        job.started.set()
        try:
            job.result.set_result(await job.work())
        except asyncio.CancelledError:
            job.result.cancel()
            raise
        except Exception as exc:  # the submitter handles it
            job.result.set_exception(exc)
        finally:
            self._running.discard(job)
            if not self:
                self._empty.set()
            self._durations.append(self.clock() - started)
            if not job.result.done():
                job.result.cancel()
