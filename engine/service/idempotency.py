"""Request ids as idempotency keys: a retried request joins or reuses the first one's work."""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class IdempotencyConflictError(Exception):
    """The request id was already used for a different request."""


def fingerprint(*parts: bytes | str | None) -> str:
    """A digest of everything that defines a request."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else (part or b"")
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


class Idempotency(Generic[T]):
    """Runs each request id once; keeps the last `capacity` successful results.

    The work runs as its own task, so a client that disconnects does not cancel it and a
    retry with the same id gets the same result. Failed work is forgotten so that it can be
    retried.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.capacity = capacity
        self._tasks: OrderedDict[str, tuple[str, asyncio.Task[T]]] = OrderedDict()
        self.runs = 0  # how many times work actually started (for tests and metrics)

    async def run(self, request_id: str, digest: str, work: Callable[[], Awaitable[T]]) -> T:
        """The result of `work` for this id: shared with earlier calls with the same id."""
        known = self._tasks.get(request_id)
        if known is not None:
            if known[0] != digest:
                raise IdempotencyConflictError(
                    f"request id {request_id!r} was already used for a different request"
                )
            self._tasks.move_to_end(request_id)
            return await asyncio.shield(known[1])
        self.runs += 1
        task = asyncio.ensure_future(work())
        self._tasks[request_id] = (digest, task)
        task.add_done_callback(lambda done: self._settle(request_id, done))
        self._trim()
        return await asyncio.shield(task)

    def _settle(self, request_id: str, task: asyncio.Task[T]) -> None:
        if task.cancelled() or task.exception() is not None:
            known = self._tasks.get(request_id)
            if known is not None and known[1] is task:
                del self._tasks[request_id]

    def _trim(self) -> None:
        while len(self._tasks) > self.capacity:
            oldest = next(iter(self._tasks))
            if not self._tasks[oldest][1].done():
                break  # never forget running work
            del self._tasks[oldest]
