"""Who runs which waiting job: one process on SQLite, any number on PostgreSQL.

- `LocalDispatcher` (SQLite, one process): worker tasks take the waiting jobs in turn order
  from the `request_jobs` rows. At start-up every job left running is requeued: on SQLite
  only one process serves the queue, so whoever ran them is gone.
- `PgDispatcher` (PostgreSQL, any number of processes): the job-queue library pgqueuer
  holds one job per waiting request (its payload the request id, its priority minus the
  request's turn) and claims them for processes with `FOR UPDATE SKIP LOCKED`. A claim lives
  while its process beats its heartbeat; when the process dies, the claim expires after
  `claim_s` and another process (or the restarted one) takes the job over.

Both stop alike (`stop`): no new job is taken, running ones get `grace_s` to finish, and
those still running then are cancelled and put back in line for the next process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import asyncpg
from pgqueuer import Job, Queries, QueueManager, RetryRequested
from sqlalchemy.engine import URL, make_url

from .jobs import Admitted, JobStore


async def asyncpg_connection(url: str | URL) -> asyncpg.Connection:
    """A plain asyncpg connection to the database a SQLAlchemy URL names (pgqueuer's own
    connections, and the tests' server administration)."""
    url = make_url(url)
    return await asyncpg.connect(
        user=url.username,
        password=url.password,
        host=url.host,
        port=url.port,
        database=url.database,
    )


log = logging.getLogger(__name__)

Handler = Callable[
    [int], Coroutine[Any, Any, None]
]  # runs one request to its end (or raises RetryLater)
ENTRYPOINT = "beautynet.request"
IDLE_POLL_S = 5.0  # a local worker looks for waiting jobs at least this often


class RetryLater(Exception):
    """Raised by a handler that put its job back in line (`JobStore.requeue`)."""


class Dispatcher:
    """Runs each job it is given through the handler; the stop protocol both kinds share."""

    def __init__(self, store: JobStore, workers: int) -> None:
        self.store = store
        self.workers = workers
        self.running: dict[int, asyncio.Task[Any]] = {}  # request id -> the task running it
        self._handler: Handler | None = None
        self._deadline = asyncio.Event()  # set when running jobs must be put back

    async def start(self, handler: Handler) -> None:
        """Begin taking jobs."""
        self._handler = handler

    async def submitted(self, admitted: Admitted) -> None:
        """A job was admitted (its rows are committed): make it known to the workers."""

    async def stop(self, grace_s: float) -> None:
        """Take no new job; let running ones finish within `grace_s`, then put them back."""
        await self._stop_taking()
        busy = list(self.running.values())
        if busy:
            log.info("stopping: %d job(s) running here get %g s to finish", len(busy), grace_s)
            await asyncio.wait(busy, timeout=grace_s)
        self._deadline.set()
        left = list(self.running.values())
        await asyncio.gather(*left, return_exceptions=True)
        await self._closed()
        waiting = len(await self.store.waiting())
        log.info(
            "stopped taking jobs: %d put back unfinished; %d waiting for the next process",
            len(left),
            waiting,
        )

    async def _stop_taking(self) -> None:
        raise NotImplementedError

    async def _closed(self) -> None:
        """Release what the dispatcher holds, once no job runs here."""

    async def run(self, request_id: int) -> None:
        """Run one job here; raises RetryLater when it was put back in line."""
        assert self._handler is not None, "start() the dispatcher first"
        work = asyncio.create_task(self._handler(request_id))
        self.running[request_id] = asyncio.current_task()  # type: ignore[assignment]
        deadline = asyncio.create_task(self._deadline.wait())
        try:
            await asyncio.wait((work, deadline), return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
                await self.store.requeue(request_id, count_attempt=False)
                log.info("request %s put back in line for the next process", request_id)
                raise RetryLater
            work.result()
        finally:
            deadline.cancel()
            self.running.pop(request_id, None)


class LocalDispatcher(Dispatcher):
    """One process (SQLite): `workers` tasks take waiting jobs in turn order."""

    def __init__(self, store: JobStore, workers: int) -> None:
        super().__init__(store, workers)
        self._wake = asyncio.Event()
        self._picking = asyncio.Lock()
        self._picked: set[int] = set()  # jobs a worker took, until it is done with them
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, handler: Handler) -> None:
        await super().start(handler)
        released = await self.store.release_running()
        if released:
            log.info("resuming %d request(s) a previous run left running", released)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._worker()) for _ in range(self.workers)]

    async def submitted(self, admitted: Admitted) -> None:
        self._wake.set()

    async def _stop_taking(self) -> None:
        for task in self._tasks:
            task.cancel()  # a worker between jobs; those in a job are awaited below
        self._tasks = []

    async def _next(self) -> int | None:
        async with self._picking:  # two workers never pick the same job
            waiting = await self.store.waiting()
            chosen = next((j.request_id for j in waiting if j.request_id not in self._picked), None)
            if chosen is not None:
                self._picked.add(chosen)
            return chosen

    async def _worker(self) -> None:
        while True:
            self._wake.clear()
            request_id = await self._next()
            if request_id is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_POLL_S)
                continue
            # Its own task, shielded: stopping cancels idle workers, never a job (see `stop`).
            job = asyncio.ensure_future(self.run(request_id))
            try:
                with contextlib.suppress(RetryLater):
                    await asyncio.shield(job)
            finally:
                job.add_done_callback(functools.partial(self._done, request_id))

    def _done(self, request_id: int, _: asyncio.Future[None]) -> None:
        self._picked.discard(request_id)


class PgDispatcher(Dispatcher):
    """Any number of processes on PostgreSQL, through pgqueuer's claims and heartbeats."""

    def __init__(self, store: JobStore, workers: int, url: str, claim_s: float) -> None:
        super().__init__(store, workers)
        self.url = url
        self.claim = timedelta(seconds=claim_s)
        self._connections: list[asyncpg.Connection] = []
        self._manager: QueueManager | None = None
        self._queries: Queries | None = None
        self._serving: asyncio.Task[None] | None = None

    async def start(self, handler: Handler) -> None:
        await super().start(handler)
        listening, enqueueing = await self._connect(), await self._connect()
        self._queries = Queries.from_asyncpg_connection(enqueueing)
        manager = QueueManager(Queries.from_asyncpg_connection(listening))
        manager.entrypoint(ENTRYPOINT)(self._entrypoint)
        self._manager = manager
        await self._enqueue_missing()
        # pgqueuer's cap on the jobs one process holds must be at least twice its batch.
        self._serving = asyncio.create_task(
            manager.run(
                batch_size=1,
                max_concurrent_tasks=max(2, self.workers),
                heartbeat_timeout=self.claim,
                dequeue_timeout=timedelta(seconds=IDLE_POLL_S),
            )
        )

    async def _connect(self) -> asyncpg.Connection:
        connection = await asyncpg_connection(self.url)
        self._connections.append(connection)
        return connection

    async def submitted(self, admitted: Admitted) -> None:
        assert self._queries is not None, "start() the dispatcher first"
        await self._queries.enqueue(
            ENTRYPOINT,
            str(admitted.request_id).encode(),
            priority=-admitted.turn,  # pgqueuer serves the highest priority, then the oldest
            dedupe_key=str(admitted.request_id),
            on_conflict="skip",
        )

    async def _enqueue_missing(self) -> None:
        """A process that died between admitting a job and enqueueing it left it out: every
        process enqueues the waiting jobs at start (the dedupe key makes it a no-op for
        those already there)."""
        for admitted in await self.store.waiting():
            await self.submitted(admitted)

    async def _entrypoint(self, job: Job) -> None:
        try:
            await self.run(int(job.payload or b"0"))
        except RetryLater as exc:
            raise RetryRequested(reason="put back in line") from exc

    async def _stop_taking(self) -> None:
        if self._manager is not None:
            self._manager.shutdown.set()

    async def _closed(self) -> None:
        if self._serving is not None:
            with contextlib.suppress(Exception):
                await self._serving
        for connection in self._connections:
            await connection.close()
        self._connections = []


def dispatcher_for(store: JobStore, url: str, workers: int, claim_s: float) -> Dispatcher:
    """pgqueuer on PostgreSQL, else the one-process dispatcher."""
    if make_url(url).get_backend_name() in ("postgresql", "postgres"):
        return PgDispatcher(store, workers, url, claim_s)
    return LocalDispatcher(store, workers)
