"""A restart settles unfinished requests (telling their users) and its unfinished training runs."""

from __future__ import annotations

from infra.db.models import RequestKind, RequestSource, RequestStatus, TrainingStatus
from infra.db.requests import NewRequest, RequestLog, utcnow
from infra.db.session import open_database
from infra.db.training import NewRun, recent_runs, start_run
from infra.settings import Settings
from tests.fakediscord import FakeDiscord

from .conftest import BotFactory
from .helpers import requests_rows


async def test_interrupted_requests_are_settled_and_announced(
    fake: FakeDiscord, settings: Settings, start_bot: BotFactory
) -> None:
    alice = fake.add_user("alice")
    async with open_database(settings, create_if_empty=True) as db:
        log = RequestLog(db.sessions, worker="bot")
        request_id = await log.create(
            NewRequest(
                alice.id,
                RequestSource.SLASH,
                RequestKind.IMAGE,
                "tiny",
                guild_id=fake.guild_id,
                channel_id=fake.general.id,
            )
        )
        await log.start(request_id)
    bot = await start_bot()
    notice = await fake.wait_for(
        lambda: next(
            (m for m in fake.channel_messages(fake.general) if f"#{request_id}" in m["content"]),
            None,
        )
    )
    assert f"<@{alice.id}>" in notice["content"] and "interrupted" in notice["content"]
    (row,) = await requests_rows(bot)
    assert row.status == RequestStatus.FAILED and "restarted" in (row.reason or "")


async def test_training_runs_this_bot_left_running_are_settled(
    settings: Settings, start_bot: BotFactory
) -> None:
    async with open_database(settings, create_if_empty=True) as db:
        for worker in ("bot", "bot:shards=1"):  # this process's, and another process's
            new = NewRun("tiny", "flowers", "edges", user_id=1, worker=worker)
            await start_run(db.sessions, new, now=utcnow())
    bot = await start_bot()
    async with bot.db.sessions() as session:
        runs = {run.worker: run for run in await recent_runs(session)}
    assert runs["bot"].status == TrainingStatus.FAILED and "restarted" in (runs["bot"].reason or "")
    assert runs["bot:shards=1"].status == TrainingStatus.RUNNING
