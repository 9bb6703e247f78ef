"""A person's install: the commands everywhere, the Apps menu where the bot is not, and the
rules of each place (the fake Discord models Discord's, see `tests/fakediscord/installs.py`)."""

from __future__ import annotations

import pytest

from bot.bot import BeautyBot
from bot.delivery import EXPIRED_HERE
from bot.places import PRIVATE_NOTE
from infra.db.models import ChannelKind, InstallContext, RequestStatus
from infra.db.preferences import update_guild_settings
from infra.db.requests import utcnow
from tests.conftest import encoded
from tests.fakediscord import Channel, FakeDiscord, NotOfferedError, User
from tests.fakediscord.installs import EPHEMERAL
from tests.fakediscord.payloads import USE_EXTERNAL_APPS

from .helpers import Json, ephemeral_answer, final_reply, idle, requests_rows

PERSONAL = {"beautify", "Beautify", "compare", "models", "model", "history"}


@pytest.fixture
async def synced(fake: FakeDiscord, bot: BeautyBot) -> BeautyBot:
    """The bot, with its commands published globally (Discord then knows where to offer them)."""
    await bot.sync_commands(None)
    return bot


async def posted_photo(fake: FakeDiscord, author: User, channel: Channel, photo) -> Json:
    """A photo someone posts where the bot may not be (no event reaches it there)."""
    return await fake.post_message(
        author, files=[("p.png", encoded(photo()), "image/png")], channel=channel
    )


async def beautified_in_a_dm(
    fake: FakeDiscord, bot: BeautyBot, photo
) -> tuple[User, User, Channel, Json]:
    """Alice (who installed the app) uses Apps > Beautify on Bob's photo in their DM."""
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    fake.install_for(alice)
    dm = fake.add_private_channel(alice, bob)
    target = await posted_photo(fake, bob, dm, photo)
    reply = await final_reply(fake, bot, await fake.context_menu(alice, "Beautify", target))
    return alice, bob, dm, reply


def channel_calls(fake: FakeDiscord, channel: Channel) -> list[str]:
    """The REST calls the bot made on a channel itself (not through an interaction)."""
    return [c.path for c in fake.calls if c.path.startswith(f"/channels/{channel.id}")]


async def test_commands_are_published_for_both_installs_and_admin_for_servers_only(
    fake: FakeDiscord, synced: BeautyBot
) -> None:
    published = {c["name"]: c for c in fake.commands["global"]}
    assert set(published) >= PERSONAL
    for name in PERSONAL:
        assert published[name]["integration_types"] == [0, 1], name
        assert published[name]["contexts"] == [0, 1, 2], name
    assert published["admin"]["integration_types"] == [0]
    assert published["admin"]["contexts"] == [0]


async def test_admin_commands_are_absent_from_user_installs(
    fake: FakeDiscord, synced: BeautyBot
) -> None:
    owner, bob = fake.owner, fake.add_user("bob")
    fake.install_for(owner)
    elsewhere = fake.add_guild("No bot", bot=False)
    stats = [{"name": "stats", "type": 1, "options": []}]
    for channel in (elsewhere, fake.add_private_channel(owner, bob), fake.bot_dm(owner)):
        with pytest.raises(NotOfferedError):
            await fake.slash(owner, "admin", stats, channel=channel)
        await ephemeral_answer(fake, await fake.slash(owner, "history", channel=channel))
    answer = await ephemeral_answer(fake, await fake.slash(owner, "admin", stats))
    assert answer.startswith("**Requests")  # where the server added the bot


async def test_without_a_user_install_nothing_is_offered_outside_the_bots_servers(
    fake: FakeDiscord, synced: BeautyBot
) -> None:
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    with pytest.raises(NotOfferedError):
        await fake.slash(alice, "history", channel=fake.add_private_channel(alice, bob))


async def test_apps_menu_in_a_dm_between_two_other_people(
    fake: FakeDiscord, synced: BeautyBot, photo
) -> None:
    _, _, dm, reply = await beautified_in_a_dm(fake, synced, photo)
    assert reply["attachments"] and not reply["flags"] & EPHEMERAL  # both of them see it
    assert reply["channel_id"] == str(dm.id) and "tiny v1" in reply["content"]
    (row,) = await requests_rows(synced)
    assert row.status == RequestStatus.DONE and row.guild_id is None
    assert (row.install, row.channel_kind) == (InstallContext.USER, ChannelKind.DM)
    assert channel_calls(fake, dm) == []  # everything went through the interaction


async def test_apps_menu_in_a_server_without_the_bot_ignores_its_settings(
    fake: FakeDiscord, synced: BeautyBot, photo
) -> None:
    alice = fake.add_user("alice")
    fake.install_for(alice)
    elsewhere = fake.add_guild("No bot", bot=False)
    assert elsewhere.guild_id is not None
    async with synced.db.sessions.begin() as session:  # left from a time it had the bot
        await update_guild_settings(
            session, elsewhere.guild_id, actor_id=1, now=utcnow(), requests_per_user_per_hour=1
        )
    model = [{"name": "name", "type": 3, "value": "tiny-edges"}]
    use = [{"name": "use", "type": 1, "options": model}]
    await ephemeral_answer(fake, await fake.slash(alice, "model", use, channel=fake.bot_dm(alice)))
    for _ in range(2):  # the server's hourly limit of 1 does not apply to a person's install
        target = await posted_photo(fake, alice, elsewhere, photo)
        interaction = await fake.context_menu(alice, "Beautify", target)
        reply = await final_reply(fake, synced, interaction)
        assert "tiny-edges v1" in reply["content"]  # the person's own default model
        assert not reply["flags"] & EPHEMERAL
    rows = await requests_rows(synced)
    assert [row.status for row in rows] == [RequestStatus.DONE] * 2
    assert {(r.guild_id, r.install, r.channel_kind) for r in rows} == {
        (elsewhere.guild_id, InstallContext.USER, ChannelKind.GUILD_TEXT)
    }
    assert channel_calls(fake, elsewhere) == []


async def test_a_server_that_restricts_external_apps_gets_a_private_answer(
    fake: FakeDiscord, synced: BeautyBot, photo
) -> None:
    alice = fake.add_user("alice")
    fake.install_for(alice)
    strict = fake.add_guild("Strict", bot=False, everyone_denied=USE_EXTERNAL_APPS)
    target = await posted_photo(fake, alice, strict, photo)
    interaction = await fake.context_menu(alice, "Beautify", target)
    reply = await final_reply(fake, synced, interaction)
    assert interaction.callbacks[0]["data"]["flags"] & EPHEMERAL  # asked for, not just forced
    assert reply["attachments"] and reply["flags"] & EPHEMERAL
    assert reply["content"].endswith(PRIVATE_NOTE)
    (row,) = await requests_rows(synced)
    assert (row.install, row.channel_kind) == (InstallContext.USER, ChannelKind.GUILD_TEXT)


async def test_beautify_in_the_bots_dm_and_a_group_dm(
    fake: FakeDiscord, synced: BeautyBot, photo
) -> None:
    alice, bob, carol = (fake.add_user(name) for name in ("alice", "bob", "carol"))
    fake.install_for(alice)
    file = {"file": ("p.png", encoded(photo()), "image/png")}
    for channel in (fake.bot_dm(alice), fake.add_private_channel(alice, bob, carol)):
        interaction = await fake.slash(alice, "beautify", files=file, channel=channel)
        assert (await final_reply(fake, synced, interaction))["attachments"]
    rows = await requests_rows(synced)
    assert [(r.install, r.channel_kind) for r in rows] == [
        (InstallContext.USER, ChannelKind.BOT_DM),
        (InstallContext.USER, ChannelKind.GROUP_DM),
    ]


async def test_buttons_under_a_user_install_result(
    fake: FakeDiscord, synced: BeautyBot, photo
) -> None:
    alice, bob, dm, result = await beautified_in_a_dm(fake, synced, photo)
    (row,) = await requests_rows(synced)
    more = await fake.click(bob, result, f"bn:k:{row.id}:9")  # bob has no install of his own
    assert (await final_reply(fake, synced, more))["attachments"]
    deleted = await fake.click(alice, result, f"bn:del:{row.id}")
    assert await ephemeral_answer(fake, deleted) == "Deleted."
    assert int(result["id"]) not in fake.messages
    rerun = (await requests_rows(synced))[1]
    assert (rerun.user_id, rerun.install, rerun.channel_kind) == (
        bob.id,
        InstallContext.USER,
        ChannelKind.DM,
    )
    assert channel_calls(fake, dm) == []


async def test_admin_stats_counts_installs_and_channels(
    fake: FakeDiscord, start_bot, photo
) -> None:
    bot = await start_bot(owner_ids=[fake.owner.id])
    await bot.sync_commands(None)
    alice, admin = fake.add_user("alice"), fake.add_user("admin", admin=True)
    fake.install_for(alice)
    file = {"file": ("p.png", encoded(photo()), "image/png")}
    for channel in (fake.general, fake.bot_dm(alice)):
        interaction = await fake.slash(alice, "beautify", files=file, channel=channel)
        await final_reply(fake, bot, interaction)
    stats = [{"name": "stats", "type": 1, "options": []}]
    lines = (await ephemeral_answer(fake, await fake.slash(admin, "admin", stats))).splitlines()
    assert "**Where**: by install: guild 1; by channel: guild text 1" in lines
    assert not any(line.startswith("**Everywhere**") for line in lines)  # for owners only
    lines = (await ephemeral_answer(fake, await fake.slash(fake.owner, "admin", stats))).split("\n")
    assert (
        "**Everywhere** (every server and DM): by install: guild 1, user 1; "
        "by channel: bot dm 1, guild text 1"
    ) in lines


async def test_an_expired_answer_is_not_posted_where_the_bot_is_not(
    fake: FakeDiscord, synced: BeautyBot, photo
) -> None:
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    fake.install_for(alice)
    dm = fake.add_private_channel(alice, bob)
    file = {"file": ("p.png", encoded(photo()), "image/png")}
    await fake.slash(alice, "beautify", files=file, channel=dm, age_s=15 * 60)
    await fake.wait_for(lambda: fake.fetched)  # the work started
    await idle(synced)
    (row,) = await requests_rows(synced)
    assert row.status == RequestStatus.FAILED and row.reason == EXPIRED_HERE
    assert channel_calls(fake, dm) == []
