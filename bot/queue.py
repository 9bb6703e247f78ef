"""A bounded, fair job queue: a few jobs per user, served round-robin, with an optional cooldown."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from itertools import count
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
    round: int = 0  # the user's turn: their n-th job in the queue is served in round n
    seq: int = 0  # arrival order, to break ties within a round
    result: asyncio.Future[Any] = field(default_factory=asyncio.Future)
    started: asyncio.Event = field(default_factory=asyncio.Event)


class FairQueue:
    """Admits at most `capacity` jobs, `per_user` of them per user, and runs them on `workers`.

    Waiting jobs are served round-robin over users: a user's n-th job in the queue waits
    behind everyone's earlier turns, so one person's third request never delays another
    person's first. A user who just submitted waits `cooldown_s` before the next submission.
    """

    def __init__(
        self,
        capacity: int,
        cooldown_s: float = 0.0,
        workers: int = 1,
        clock: Clock = time.monotonic,
        per_user: int = 1,
    ) -> None:
        if capacity < 1 or workers < 1 or cooldown_s < 0 or per_user < 1:
            raise ValueError(
                f"capacity={capacity}, workers={workers}, cooldown_s={cooldown_s}, "
                f"per_user={per_user}"
            )
        self.capacity = capacity
        self.cooldown_s = cooldown_s
        self.workers = workers
        self.clock = clock
        self.per_user = per_user
        self._waiting: list[Job] = []  # sorted by (round, seq): the order of service
        self._running: set[Job] = set()
        self._round = 0  # the round of the job started last
        self._arrivals = count()
        self._last_submit: dict[int, float] = {}
        self._durations: deque[float] = deque(maxlen=20)
        self._next_change = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._empty = asyncio.Event()
        self._empty.set()

    # ---- admission ---------------------------------------------------------------------
    def check(self, user_id: int) -> None:
        """Raise BusyError when this user's job would not be admitted now."""
        mine = self.jobs_of(user_id)
        if len(mine) >= self.per_user:
            wait = self.estimated_wait(ahead=1)
            raise BusyError(
                f"You already have {len(mine)} requests in the queue "
                f"({self.positions_text(mine)}); wait for one to finish.",
                wait,
            )
        since = self.clock() - self._last_submit.get(user_id, float("-inf"))
        if since < self.cooldown_s:
            wait = self.cooldown_s - since
            raise BusyError(f"Slow down; try again in {seconds_text(wait)}.", wait)
        if len(self) >= self.capacity:
            wait = self.estimated_wait()
            raise BusyError(f"I'm busy; try again in {seconds_text(wait)}.", wait)

    def submit(self, user_id: int, work: Callable[[], Awaitable[Any]]) -> Job:
        """Queue `work` for `user_id`; raises BusyError when not admitted."""
        self.check(user_id)
        mine = self.jobs_of(user_id)
        turn = max((job.round + 1 for job in mine), default=self._round)
        job = Job(user_id, work, round=max(turn, self._round), seq=next(self._arrivals))
        self._waiting.append(job)
        self._waiting.sort(key=lambda j: (j.round, j.seq))
        self._empty.clear()
        self._last_submit[user_id] = self.clock()
        self._changed()
        return job

    def jobs_of(self, user_id: int) -> list[Job]:
        """A user's jobs: running first, then waiting in the order they will be served."""
        running = [job for job in self._running if job.user_id == user_id]
        return running + [job for job in self._waiting if job.user_id == user_id]

    def position(self, job: Job) -> int:
        """0 while running (or done), else 1 + the number of jobs to be served before it."""
        return self._waiting.index(job) + 1 if job in self._waiting else 0

    def positions_text(self, jobs: list[Job]) -> str:
        """'running, position 2 and position 4' for some jobs."""
        parts = [f"position {p}" if (p := self.position(job)) else "running" for job in jobs]
        return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"

    def changed(self) -> asyncio.Event:
        """An event set at the queue's next change (a job admitted or started)."""
        return self._next_change

    def estimated_wait(self, ahead: int | None = None) -> float:
        """Seconds until a slot frees up (or `ahead` jobs finish), from recent durations."""
        typical = sum(self._durations) / len(self._durations) if self._durations else None
        per_job = typical or DEFAULT_JOB_SECONDS
        ahead = ahead or max(1, len(self) - self.capacity + 1)
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
        self._tasks = [loop.create_task(self._worker()) for _ in range(self.workers)]

    async def close(self) -> None:
        """Stop the workers; waiting jobs are cancelled."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while self._waiting:
            self._waiting.pop().result.cancel()

    def _changed(self) -> None:
        # Waiters hold the current event; a fresh one is armed for the change after this.
        self._next_change.set()
        self._next_change = asyncio.Event()

    async def _worker(self) -> None:
        while True:
            while not self._waiting:
                await self._next_change.wait()
            job = self._waiting.pop(0)
            self._round = job.round
            self._running.add(job)
            job.started.set()
            self._changed()
            await self._run(job)

    async def _run(self, job: Job) -> None:
        started = self.clock()
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
