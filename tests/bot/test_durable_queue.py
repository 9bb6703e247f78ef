"""Nothing queued is lost: real bot processes on the fake Discord, killed (SIGKILL), stopped
(SIGTERM) and restarted on the same database; two processes sharing one PostgreSQL queue,
killed or restarted one after the other."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL

from infra.db.models import Request, RequestJob, RequestStatus
from infra.db.session import Database
from infra.settings import Settings
from tests.conftest import encoded
from tests.db.conftest import new_postgres_database, postgres_server  # noqa: F401 - a fixture
from tests.fakediscord import Channel, FakeDiscord

from .helpers import Json, replies_to
from .processes import BotProcess, BotProcesses

CROWD_TIMEOUT = 120.0
LOG_SETTLES_S = 30.0  # from an answer sent to its row settled, on a loaded machine
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
def processes(fake: FakeDiscord, data_dir: Path, tmp_path: Path) -> Iterator[BotProcesses]:
    started = BotProcesses(fake, data_dir, tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
async def postgres_url(postgres_server: URL) -> AsyncIterator[str]:  # noqa: F811
    async with new_postgres_database(postgres_server) as url:
        yield url


async def crowd(
    fake: FakeDiscord,
    photo,
    people: int = 6,
    each: int = 3,
    channel: Channel | None = None,
    channels: Sequence[Channel] = (),
) -> list[Json]:
    """`people` members post `each` photos mentioning the bot, all within a moment: in
    `channel`, or round by round in each of `channels` in turn."""
    members = [fake.add_user(f"member{i}") for i in range(people)]
    posted = []
    for round_ in range(each):
        where = channels[round_ % len(channels)] if channels else channel
        for index, member in enumerate(members):
            image = [("p.png", encoded(photo(320, 240, seed=round_ * people + index)), "image/png")]
            posted.append(
                await fake.post_message(member, "", image, channel=where, mention_bot=True)
            )
    return posted


def answered(fake: FakeDiscord, message: Json) -> bool:
    return any(reply["attachments"] for reply in replies_to(fake, message))


async def first_picture(fake: FakeDiscord, posted: list[Json]) -> None:
    await fake.wait_for(lambda: any(answered(fake, m) for m in posted), CROWD_TIMEOUT)


async def all_answered_once(fake: FakeDiscord, posted: list[Json]) -> None:
    """Every photo has its picture, in the one reply the bot made to it; no "send it again"."""
    await fake.wait_for(lambda: all(answered(fake, m) for m in posted), CROWD_TIMEOUT)
    for message in posted:
        assert len(replies_to(fake, message)) == 1, replies_to(fake, message)
    again = [m["content"] for m in fake.messages.values() if "send it again" in m["content"]]
    assert not again
    assert not any("⚠️" in r["content"] for m in posted for r in replies_to(fake, m))


async def rows_of(url: str) -> tuple[list[Request], int]:
    """The request log, and how many jobs are left in the queue."""
    db = Database.from_url(url)
    try:
        async with db.sessions() as session:
            rows = list((await session.scalars(select(Request).order_by(Request.id))).all())
            left = await session.scalar(select(func.count()).select_from(RequestJob))
        return rows, int(left or 0)
    finally:
        await db.dispose()


async def check_log(url: str, posted: list[Json]) -> list[Request]:
    """One finished row per request. A job's row is settled just after its answer is sent,
    so a picture can be seen a moment before its row says so: wait for that moment."""
    deadline = time.monotonic() + LOG_SETTLES_S
    rows, left = await rows_of(url)
    while (left or any(r.status != RequestStatus.DONE for r in rows)) and (
        time.monotonic() < deadline
    ):
        await asyncio.sleep(0.2)
        rows, left = await rows_of(url)
    assert left == 0
    assert sorted(row.message_id or 0 for row in rows) == sorted(int(m["id"]) for m in posted)
    assert all(row.status == RequestStatus.DONE for row in rows), [r.reason for r in rows]
    return rows


def sqlite_url(data_dir: Path) -> str:
    return Settings(data_dir=data_dir).database_url_or_default


def no_token_in(bot: BotProcess, fake: FakeDiscord) -> None:
    text = bot.log()
    assert "fake-token" not in text
    assert not any(i.token in text for i in fake.interactions.values())


async def test_a_crash_mid_crowd_loses_nothing(
    fake: FakeDiscord, processes: BotProcesses, data_dir: Path, photo
) -> None:
    first = await processes.start("first", queue_size="20")
    posted = await crowd(fake, photo)
    await first_picture(fake, posted)
    first.kill()
    done_before = sum(answered(fake, m) for m in posted)
    second = await processes.start("second", queue_size="20")
    await all_answered_once(fake, posted)
    rows = await check_log(sqlite_url(data_dir), posted)
    assert done_before < len(posted)  # the restart had work to resume
    assert sum(row.worker == "bot" for row in rows) == len(posted)
    assert "resuming" in second.log() or max(row.attempts for row in rows) == 1
    no_token_in(second, fake)


async def test_a_redeploy_mid_crowd_loses_nothing(
    fake: FakeDiscord, processes: BotProcesses, data_dir: Path, photo
) -> None:
    first = await processes.start("first", queue_size="20", stop_grace_s="20")
    posted = await crowd(fake, photo)
    await first_picture(fake, posted)
    assert await first.terminate() == 0
    log = first.log()
    assert "SIGTERM received" in log and "stopped taking jobs" in log
    assert "0 put back unfinished" in log  # the running job finished within the grace
    done_before = sum(answered(fake, m) for m in posted)
    assert done_before < len(posted)
    await processes.start("second", queue_size="20")
    await all_answered_once(fake, posted)
    rows = await check_log(sqlite_url(data_dir), posted)
    assert all(row.attempts == 1 for row in rows)  # nothing ran twice


async def test_two_processes_share_one_postgresql_queue(
    fake: FakeDiscord, processes: BotProcesses, postgres_url: str, photo
) -> None:
    processes.environment["DATABASE_URL"] = postgres_url
    zero = fake.add_guild("Zero", shard=(0, 2))
    one = fake.add_guild("One", shard=(1, 2))
    shards = {"shard_count": "2", "job_claim_s": "3", "queue_size": "20"}
    bots = [await processes.start(f"shard{i}", shard_ids=str(i), **shards) for i in (0, 1)]
    flooder = fake.add_user("flooder")
    posted = []
    for index in range(8):  # one member floods both processes, alternately
        channel = zero if index % 2 == 0 else one
        image = [("p.png", encoded(photo(640, 480, seed=index)), "image/png")]
        posted.append(
            await fake.post_message(flooder, "", image, channel=channel, mention_bot=True)
        )

    def settled(message: Json) -> bool:
        return any(r["attachments"] or "⚠️" in r["content"] for r in replies_to(fake, message))

    await fake.wait_for(lambda: all(settled(m) for m in posted), CROWD_TIMEOUT)
    refused = [m for m in posted if not answered(fake, m)]
    for message in refused:
        (reply,) = replies_to(fake, message)
        assert "You already have 3 requests in the queue" in reply["content"]
    accepted = [m for m in posted if answered(fake, m)]
    assert len(accepted) >= 3 and len(refused) >= 1  # 3 at a time, over both processes
    rows = await check_log(postgres_url, accepted)
    assert {row.worker for row in rows} <= {"bot:shards=0", "bot:shards=1"}

    # A process dies mid-job: its claim expires and the other one takes the job over.
    crowd_posted = await crowd(fake, photo, people=3, each=2, channel=zero)
    await first_picture(fake, crowd_posted)
    bots[0].kill()
    await all_answered_once(fake, crowd_posted)
    rows = await check_log(postgres_url, accepted + crowd_posted)
    resumed = rows[len(accepted) :]
    assert any(row.attempts == 2 and row.worker == "bot:shards=1" for row in resumed)
    no_token_in(bots[1], fake)


async def running_on(url: str, worker: str, timeout: float = CROWD_TIMEOUT) -> None:
    """Wait until the process named `worker` runs a job (its request row says so)."""
    deadline = time.monotonic() + timeout
    while not any(
        row.status == RequestStatus.RUNNING and row.worker == worker
        for row in (await rows_of(url))[0]
    ):
        assert time.monotonic() < deadline, f"{worker} never ran a job"
        await asyncio.sleep(0.1)


async def test_a_rolling_restart_of_two_processes_loses_nothing(
    fake: FakeDiscord, processes: BotProcesses, postgres_url: str, photo
) -> None:
    processes.environment["DATABASE_URL"] = postgres_url
    guilds = [fake.add_guild("Zero", shard=(0, 2)), fake.add_guild("One", shard=(1, 2))]
    shards = {"shard_count": "2", "queue_size": "20", "stop_grace_s": "20"}
    shards["engine_max_batch"] = "4"  # not measured at the first picture: two at once are slow
    bots = [await processes.start(f"shard{i}", shard_ids=str(i), **shards) for i in (0, 1)]
    posted = await crowd(fake, photo, people=4, each=2, channels=guilds)  # one in each guild
    await first_picture(fake, posted)

    # A deploy replaces the processes one at a time, each stopped once it runs a job (it
    # may have finished by the time the signal lands); the members go on posting once the
    # first successor is up (a shard without a process would not hear them).
    stopped = []
    for shard in (0, 1):
        if shard == 1:
            posted += await crowd(fake, photo, people=2, each=2, channels=guilds)
        await running_on(postgres_url, f"bot:shards={shard}")
        assert sum(answered(fake, m) for m in posted) < len(posted)  # work left to hand over
        assert await bots[shard].terminate() == 0
        stopped.append(bots[shard])
        bots[shard] = await processes.start(f"shard{shard}-next", shard_ids=str(shard), **shards)

    await all_answered_once(fake, posted)
    rows = await check_log(postgres_url, posted)
    assert {row.worker for row in rows} <= {"bot:shards=0", "bot:shards=1"}
    assert all(row.attempts == 1 for row in rows)  # handed over, not taken over: none ran twice
    for bot in stopped:
        log = bot.log()
        assert "SIGTERM received" in log and "stopped taking jobs" in log, log[-3000:]
    for bot in stopped + bots:
        no_token_in(bot, fake)
