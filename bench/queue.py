"""The durable queue's overhead per job, beside the engine's time per image.

    python -m bench.queue                         # a fresh SQLite file
    python -m bench.queue --database-url postgresql://...   # an empty PostgreSQL database

Per job, one at a time: admit it (the request and its job, under the admission lock), hand it
to the dispatcher (pgqueuer on PostgreSQL, which claims it for a worker), claim it and finish
it (the request log row; the job row deleted). Medians of `--jobs` jobs: the queue's own
cost, without Discord or the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from engine.machine import cpu_model
from infra.db import schema
from infra.db.dispatch import dispatcher_for
from infra.db.jobs import JobStore, QueueBounds
from infra.db.models import RequestKind, RequestSource
from infra.db.requests import NewRequest, RequestLog
from infra.db.session import Database


async def measure(url: str, jobs: int) -> dict[str, float]:
    """Median milliseconds from admitting a job until a worker has claimed and finished it,
    one job at a time (so each one waits for nothing but the queue)."""
    db = Database.from_url(url)
    await schema.upgrade(db.engine)
    store = JobStore(RequestLog(db.sessions, worker="bench"), QueueBounds(jobs + 1, jobs + 1))
    dispatcher = dispatcher_for(store, url, workers=1, claim_s=30)
    finished: asyncio.Queue[int] = asyncio.Queue()

    async def handle(request_id: int) -> None:  # the bot's handler, without Discord or engine
        if await store.claim(request_id) is not None:
            await store.log.finish(request_id)
        finished.put_nowait(request_id)

    await dispatcher.start(handle)
    admit_s, total_s = [], []
    try:
        for index in range(jobs):
            new = NewRequest(index, RequestSource.MESSAGE, RequestKind.IMAGE, "bench")
            started = time.perf_counter()
            admitted = await store.admit(new, {"operation": "beautify"}, {"user_id": index})
            admit_s.append(time.perf_counter() - started)
            await dispatcher.submitted(admitted)
            await asyncio.wait_for(finished.get(), 30)
            total_s.append(time.perf_counter() - started)
    finally:
        await dispatcher.stop(0)
        await db.dispose()
    return {"admit": 1000 * statistics.median(admit_s), "total": 1000 * statistics.median(total_s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty PostgreSQL database (else SQLite)")
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        medians = asyncio.run(measure(url, args.jobs))
    backend = url.split(":", 1)[0]
    print(f"{cpu_model()}; {backend}; {args.jobs} jobs; median ms per job:")
    print("  " + ", ".join(f"{step} {ms:.2f}" for step, ms in medians.items()))


if __name__ == "__main__":
    main()
