"""End to end: sharding, automatic or split over processes that share the database."""

from __future__ import annotations

from bot.bot import BeautyBot
from infra.db.models import RequestStatus
from tests.conftest import encoded
from tests.fakediscord import Channel, FakeDiscord

from .conftest import BotFactory
from .helpers import final_reply, idle, replies_to, reply_to, requests_rows


async def test_two_processes_answer_each_guild_exactly_once(
    fake: FakeDiscord, start_bot: BotFactory, photo
) -> None:
    channels = [
        fake.general,
        fake.add_guild("Zero", shard=(0, 2)),
        fake.add_guild("One", shard=(1, 2)),
    ]
    bots = [await start_bot(shard_count=2, shard_ids=[i]) for i in (0, 1)]

    def owner(channel: Channel) -> BeautyBot:
        return bots[fake.shard_of(channel.guild_id, 2)]

    for index, bot in enumerate(bots):
        mine = {c.guild_id for c in channels if fake.shard_of(c.guild_id, 2) == index}
        assert {g.id for g in bot.guilds} == mine and mine
    alice = fake.add_user("alice")
    image = [("p.png", encoded(photo()), "image/png")]
    asked = []
    for channel in channels:
        file = {"file": image[0]}
        interaction = await fake.slash(alice, "beautify", files=file, channel=channel)
        message = await fake.post_message(alice, "", image, channel=channel, mention_bot=True)
        assert (await final_reply(fake, owner(channel), interaction))["attachments"]
        assert (await reply_to(fake, owner(channel), message))["attachments"]
        asked.append((interaction, message))
    for bot, channel in zip(bots, channels[1:], strict=True):  # each has seen all its events
        marker = await fake.post_message(alice, "", image, channel=channel, mention_bot=True)
        await reply_to(fake, bot, marker)
    for bot in bots:
        await idle(bot)
    for interaction, message in asked:
        assert len(interaction.callbacks) == 1 and len(replies_to(fake, message)) == 1
    rows = await requests_rows(bots[0])
    assert len(rows) == 2 * len(channels) + 2
    assert all(row.status == RequestStatus.DONE for row in rows)
    for row in rows:  # each process logged (and would recover) only its own guilds' rows
        assert row.guild_id is not None
        assert row.worker == f"bot:shards={fake.shard_of(row.guild_id, 2)}"


async def test_unset_shards_follow_discords_recommendation(
    fake: FakeDiscord, start_bot: BotFactory, photo
) -> None:
    fake.recommended_shards = 2
    other = fake.add_guild("Other", shard=(1 - fake.shard_of(fake.guild_id, 2), 2))
    bot = await start_bot()
    assert any(call.path == "/gateway/bot" for call in fake.calls)
    assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
    assert {g.id for g in bot.guilds} == {fake.guild_id, other.guild_id}
    alice = fake.add_user("alice")
    image = [("p.png", encoded(photo()), "image/png")]
    for channel in (fake.general, other):
        message = await fake.post_message(alice, "", image, channel=channel, mention_bot=True)
        assert (await reply_to(fake, bot, message))["attachments"]
