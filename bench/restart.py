"""How soon a restarted bot answers what its killed predecessor left in the queue.

    python -m bench.restart                                  # a fresh SQLite file
    python -m bench.restart --database-url postgresql://...  # an empty PostgreSQL database

Real parts, as `tests/bot/test_durable_queue.py` runs them: the in-repo fake Discord on
localhost, real `python -m beautynet bot` processes (eager fp32 on the CPU, the bundled
models), a real database. Per repeat: a bot starts with nothing queued (its time until it
says "connected to Discord" is the startup figure), `--people` members each post `--photos`
small photos mentioning it, and once the first picture is answered the bot is killed
(SIGKILL). A new process is then spawned on the same database; the figures run from that
spawn, so they include everything a real restart pays: the interpreter, importing torch
and the bot, loading the model, logging in to the gateway, taking back the jobs the dead
process left (SQLite: all at start; PostgreSQL: the waiting ones at once, the ones it was
running once their claims expire, `--claim-s`), and translating the photos. First: until
the first resumed request's picture arrives; all: until every resumed request's has.
"Connected" is the bot's own log line (discord.py's ready, after the guilds arrive); it
takes jobs from login on, so it can answer a moment before it. Medians of `--repeats`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.common import describe_machine
from infra.db.models import RequestJob
from infra.db.session import Database
from infra.settings import Settings
from tests.bot.helpers import Json, replies_to
from tests.bot.processes import BotProcesses
from tests.conftest import encoded, photo_like
from tests.fakediscord import FakeDiscord

ANSWER_TIMEOUT = 300.0  # a busy 2-core machine


def answered(fake: FakeDiscord, message: Json) -> bool:
    """The bot replied to the message with a picture (a warning reply is an error here)."""
    replies = replies_to(fake, message)
    if any(str(r["content"]).startswith("⚠️") for r in replies):
        raise RuntimeError(f"the bot refused a request: {[r['content'] for r in replies]}")
    return any(r["attachments"] for r in replies)


async def queue_emptied(url: str) -> None:
    """Wait until no job is left in the database, so that the next repeat starts clean."""
    db = Database.from_url(url)
    try:
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while time.monotonic() < deadline:
            async with db.sessions() as session:
                if not await session.scalar(select(func.count()).select_from(RequestJob)):
                    return
            await asyncio.sleep(0.5)
        raise RuntimeError("jobs were left in the queue")
    finally:
        await db.dispose()


async def one_restart(
    fake: FakeDiscord, processes: BotProcesses, url: str, round_: int, people: int, photos: int
) -> dict[str, float]:
    """Seconds: a start with nothing queued until connected; after a kill, from the new
    process's spawn until connected, the first resumed answer and the last one; and how
    many requests the kill left unanswered."""
    started = time.perf_counter()
    first = await processes.start(f"first{round_}")
    fresh_ready = time.perf_counter() - started

    members = [fake.add_user(f"member{round_}-{i}") for i in range(people)]
    posted = []
    for index in range(photos * people):
        image = photo_like(320, 240, seed=round_ * 1000 + index)
        files: list[tuple[str, bytes, str | None]] = [("p.png", encoded(image), "image/png")]
        posted.append(await fake.post_message(members[index % people], "", files, mention_bot=True))
    await fake.wait_for(lambda: any(answered(fake, m) for m in posted), ANSWER_TIMEOUT)
    first.kill()
    await asyncio.sleep(1)  # the fake Discord (this loop) takes what the bot sent before it died
    resumed = [m for m in posted if not answered(fake, m)]
    if not resumed:
        raise RuntimeError("every request was answered before the kill: post more photos")

    spawned = time.perf_counter()
    second = asyncio.create_task(processes.start(f"second{round_}"))
    connected: list[float] = []
    second.add_done_callback(lambda _: connected.append(time.perf_counter() - spawned))
    await fake.wait_for(lambda: any(answered(fake, m) for m in resumed), ANSWER_TIMEOUT)
    first_answer = time.perf_counter() - spawned
    await fake.wait_for(lambda: all(answered(fake, m) for m in resumed), ANSWER_TIMEOUT)
    all_answers = time.perf_counter() - spawned
    await queue_emptied(url)  # a job the dead process answered but never settled runs again
    await (await second).terminate()
    return {
        "fresh start: connected": fresh_ready,
        "restart: connected": connected[0],
        "restart: first resumed answer": first_answer,
        "restart: all resumed answered": all_answers,
        "resumed requests": len(resumed),
    }


async def measure(
    data_dir: Path, url: str | None, repeats: int, people: int, photos: int, claim_s: int | None
) -> list[dict[str, float]]:
    fake = FakeDiscord()
    await fake.start()
    processes = BotProcesses(fake, data_dir, data_dir.parent)
    if url:
        processes.environment["DATABASE_URL"] = url
    url = url or Settings(data_dir=data_dir).database_url_or_default
    if claim_s is not None:
        processes.environment["BEAUTYNET_JOB_CLAIM_S"] = str(claim_s)
    try:
        return [await one_restart(fake, processes, url, r, people, photos) for r in range(repeats)]
    finally:
        processes.stop_all()
        await fake.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty PostgreSQL database (else SQLite)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--people", type=int, default=4)
    parser.add_argument("--photos", type=int, default=2, help="per person")
    parser.add_argument("--claim-s", type=int, help="BEAUTYNET_JOB_CLAIM_S (default 30)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="beautynet-restart-") as folder:
        data_dir = Path(folder) / "data"
        data_dir.mkdir()
        runs = asyncio.run(
            measure(
                data_dir, args.database_url, args.repeats, args.people, args.photos, args.claim_s
            )
        )
    backend = (args.database_url or "sqlite").split(":", 1)[0]
    print(describe_machine())
    print(
        f"{backend}; {args.people} people x {args.photos} photos of 320x240; {args.repeats} repeats"
    )
    for name in runs[0]:
        times = [run[name] for run in runs]
        each = ", ".join(f"{t:.1f}" for t in times)
        unit = "" if name == "resumed requests" else " s"
        print(f"  {name:<32} {statistics.median(times):6.1f}{unit}   ({each})")


if __name__ == "__main__":
    main()
