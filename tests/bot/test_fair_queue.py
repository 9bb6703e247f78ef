"""End to end: a person's requests queue up, people take turns, positions follow the queue."""

from __future__ import annotations

import re

import pytest

from bot.bot import BeautyBot
from tests.conftest import encoded
from tests.fakediscord import FakeDiscord, User

from .conftest import BotFactory
from .helpers import (
    GatedEngine,
    Json,
    ephemeral_answer,
    final_reply,
    original_shows,
    replies_to,
    reply_to,
    requests_rows,
)

POSITION = re.compile(r"position (\d+)")


@pytest.fixture
async def gated(engine) -> GatedEngine:
    return GatedEngine(engine)


@pytest.fixture
async def bot(start_bot: BotFactory, gated: GatedEngine) -> BeautyBot:
    return await start_bot(engine_client=gated, queue_size=10)


async def post(fake: FakeDiscord, user: User, photo, seed: int = 0) -> Json:
    image = [("p.png", encoded(photo(seed=seed)), "image/png")]
    return await fake.post_message(user, "", image, mention_bot=True)


async def shows(fake: FakeDiscord, message: Json, text: str) -> None:
    """Wait until the bot's reply to `message` says `text`."""
    await fake.wait_for(lambda: any(text in r["content"] for r in replies_to(fake, message)))


def positions_shown(fake: FakeDiscord, reply: Json) -> list[int]:
    """Every queue position the reply showed, in order (from the bot's REST calls)."""
    shown = []
    for call in fake.calls:
        created = call.method == "POST" and (call.response or {}).get("id") == reply["id"]
        edited = call.method == "PATCH" and call.path.endswith(f"/messages/{reply['id']}")
        found = POSITION.search(str((call.json or {}).get("content")))
        if (created or edited) and found:
            shown.append(int(found[1]))
    return shown


async def test_three_photos_in_a_row_give_three_results_in_order(
    fake: FakeDiscord, bot: BeautyBot, gated: GatedEngine, photo
) -> None:
    alice = fake.add_user("alice")
    posted = []
    for seed, status in enumerate(("Working on it", "position 1", "position 2")):
        posted.append(await post(fake, alice, photo, seed))
        await shows(fake, posted[-1], status)
    fourth = await fake.slash(
        alice, "beautify", files={"file": ("p.png", encoded(photo()), "image/png")}
    )
    assert await ephemeral_answer(fake, fourth) == (
        "You already have 3 requests in the queue (running, position 1 and position 2); "
        "wait for one to finish."
    )
    gated.open()
    replies = [await reply_to(fake, bot, message) for message in posted]
    assert all(reply["attachments"] for reply in replies)
    rows = await requests_rows(bot)
    assert [row.message_id for row in rows] == [int(message["id"]) for message in posted]
    assert gated.order == [row.id for row in rows]
    assert [row.result_message_id for row in rows] == [int(reply["id"]) for reply in replies]


async def test_two_users_take_turns_and_positions_follow_the_queue(
    fake: FakeDiscord, bot: BeautyBot, gated: GatedEngine, photo
) -> None:
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    a1 = await post(fake, alice, photo)
    await shows(fake, a1, "Working on it")
    a2 = await post(fake, alice, photo, 1)
    await shows(fake, a2, "position 1")
    a3 = await post(fake, alice, photo, 2)
    await shows(fake, a3, "position 2")
    b1 = await post(fake, bob, photo, 3)
    await shows(fake, b1, "position 1")  # bob's first goes before alice's second
    await shows(fake, a2, "position 2")
    await shows(fake, a3, "position 3")
    b2 = await post(fake, bob, photo, 4)
    await shows(fake, b2, "position 3")
    await shows(fake, a3, "position 4")
    for expected in (3, 2, 1):
        gated.step()
        await shows(fake, a3, f"position {expected}")
    gated.open()
    replies = [await reply_to(fake, bot, message) for message in (a1, a2, a3, b1, b2)]
    assert all(reply["attachments"] for reply in replies)
    a1_, a2_, a3_, b1_, b2_ = (row.id for row in await requests_rows(bot))
    assert gated.order == [a1_, b1_, a2_, b2_, a3_]
    assert positions_shown(fake, replies[2]) == [2, 3, 4, 3, 2, 1]


async def test_a_button_press_while_a_request_waits_is_queued(
    fake: FakeDiscord, bot: BeautyBot, gated: GatedEngine, photo
) -> None:
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    gated.step()
    first = await reply_to(fake, bot, await post(fake, alice, photo))
    (row,) = await requests_rows(bot)
    running = await post(fake, bob, photo, 1)
    await shows(fake, running, "Working on it")
    waiting = await post(fake, alice, photo, 2)
    await shows(fake, waiting, "position 1")
    pressed = await fake.click(alice, first, f"bn:k:{row.id}:9")
    await original_shows(fake, pressed, "position 2")
    gated.open()
    rerun = await final_reply(fake, bot, pressed)
    assert rerun["attachments"] and "clusters k=9" in rerun["content"]
    assert (await reply_to(fake, bot, waiting))["attachments"]
    assert (await reply_to(fake, bot, running))["attachments"]
