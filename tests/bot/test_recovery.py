"""A restart settles unfinished requests and tells their users to try again."""

from __future__ import annotations

from infra.db.models import RequestKind, RequestSource, RequestStatus
from infra.db.requests import NewRequest, RequestLog
from infra.db.session import open_database
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
                alice.id, RequestSource.SLASH, RequestKind.IMAGE, "tiny",
                guild_id=fake.guild_id, channel_id=fake.general.id,
            )
        )  # fmt: skip
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
