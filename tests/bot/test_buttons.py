"""End to end: the buttons under a result, before and after a restart of the bot."""

from __future__ import annotations

import asyncio

from bot.bot import BeautyBot
from infra.db.models import RequestStatus
from tests.conftest import encoded
from tests.fakediscord import FakeDiscord

from .conftest import BotFactory
from .helpers import Json, ephemeral_answer, final_reply, requests_rows


def custom_ids(message: Json) -> list[str]:
    return [item["custom_id"] for row in message["components"] for item in row["components"]]


async def first_result(fake: FakeDiscord, bot: BeautyBot, user, photo) -> Json:
    interaction = await fake.slash(
        user, "beautify", files={"file": ("p.png", encoded(photo()), "image/png")}
    )
    return await final_reply(fake, bot, interaction)


async def test_result_has_buttons_that_rerun(fake: FakeDiscord, bot: BeautyBot, photo) -> None:
    alice = fake.add_user("alice")
    result = await first_result(fake, bot, alice, photo)
    (row,) = await requests_rows(bot)
    assert custom_ids(result) == [
        f"bn:model:{row.id}",
        f"bn:k:{row.id}:5",
        f"bn:k:{row.id}:9",
        f"bn:del:{row.id}",
    ]
    more = await fake.click(alice, result, f"bn:k:{row.id}:9")
    rerun = await final_reply(fake, bot, more)
    assert rerun["attachments"] and more.response_type == 5
    other = await fake.click(alice, result, f"bn:model:{row.id}", values=["tiny-edges"])
    assert "tiny-edges v1" in (await final_reply(fake, bot, other))["content"]
    rows = await requests_rows(bot)
    assert [r.parameters.get("k") for r in rows] == [None, 9, None]
    # The log keeps what made each result: the model as served and the segmenter as run.
    assert [(r.model, r.model_version) for r in rows] == [
        ("tiny", 1),
        ("tiny", 1),
        ("tiny-edges", 1),
    ]
    assert [r.segmenter for r in rows] == ["clusters k=7", "clusters k=9", "edges"]
    assert [r.result_message_id for r in rows] == [
        int(result["id"]),
        int(rerun["id"]),
        int((await final_reply(fake, bot, other))["id"]),
    ]
    assert all(r.status == RequestStatus.DONE for r in rows)


async def test_buttons_work_after_a_restart(
    fake: FakeDiscord, start_bot: BotFactory, photo
) -> None:
    first = await start_bot()
    alice, mallory = fake.add_user("alice"), fake.add_user("mallory")
    result = await first_result(fake, first, alice, photo)
    (row,) = await requests_rows(first)
    await asyncio.wait_for(first.close(), 20)
    second = await start_bot()
    denied = await fake.click(mallory, result, f"bn:del:{row.id}")
    assert "Only the person who asked" in await ephemeral_answer(fake, denied)
    assert int(result["id"]) in fake.messages
    more = await fake.click(alice, result, f"bn:k:{row.id}:5")
    assert (await final_reply(fake, second, more))["attachments"]
    deleted = await fake.click(alice, result, f"bn:del:{row.id}")
    assert await ephemeral_answer(fake, deleted) == "Deleted."
    assert int(result["id"]) not in fake.messages
