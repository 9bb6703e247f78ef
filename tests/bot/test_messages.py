"""End to end: images in watched channels, mentions, the context menu, missing permissions."""

from __future__ import annotations

from sqlalchemy import select

from bot.bot import BeautyBot
from infra.db.models import AuditLog, RequestSource, RequestStatus
from tests.conftest import encoded
from tests.fakediscord import FakeDiscord
from tests.fakediscord.payloads import ATTACH_FILES

from .conftest import BotFactory
from .helpers import (
    Json,
    ephemeral_answer,
    final_reply,
    idle,
    image_of,
    replies_to,
    reply_to,
    requests_rows,
)


def sub(name: str, *options: Json) -> list[Json]:
    """A subcommand option with its own options."""
    return [{"name": name, "type": 1, "options": list(options)}]


async def answered_marker(fake: FakeDiscord, bot: BeautyBot, user, photo, channel=None) -> Json:
    """Post an image that mentions the bot and wait for its reply.

    Gateway events reach the bot in order, so once this is answered every earlier message
    has been seen: "nothing happened" to them can then be asserted.
    """
    image = [("marker.png", encoded(photo()), "image/png")]
    marker = await fake.post_message(user, "", image, channel=channel, mention_bot=True)
    return await reply_to(fake, bot, marker)


async def test_mention_with_an_image_gets_a_reply(fake: FakeDiscord, bot: BeautyBot, photo) -> None:
    alice = fake.add_user("alice")
    posted = await fake.post_message(
        alice,
        "what is this?",
        [("p.jpg", encoded(photo(), "JPEG"), "image/jpeg")],
        mention_bot=True,
    )
    reply = await reply_to(fake, bot, posted)
    assert "tiny v1" in reply["content"]
    assert image_of(fake, reply).size == (2 * 64 + 4, 48)
    (row,) = await requests_rows(bot)
    assert row.source == RequestSource.MESSAGE and row.message_id == int(posted["id"])
    assert row.status == RequestStatus.DONE


async def test_watch_then_plain_images_are_answered(
    fake: FakeDiscord, start_bot: BotFactory, photo
) -> None:
    gallery = fake.add_channel("gallery")
    bot = await start_bot()
    alice = fake.add_user("alice")
    image = [("p.png", encoded(photo()), "image/png")]
    ignored = await fake.post_message(alice, "", image, channel=gallery)
    answer = await fake.slash(
        fake.owner, "admin", sub("watch", {"name": "channel", "type": 7, "value": str(gallery.id)})
    )
    assert f"<#{gallery.id}>" in await ephemeral_answer(fake, answer)
    posted = await fake.post_message(alice, "", image, channel=gallery)
    reply = await reply_to(fake, bot, posted)
    assert reply["attachments"]
    assert not any(
        (m.get("message_reference") or {}).get("message_id") == ignored["id"]
        for m in fake.messages.values()
    )
    async with bot.db.sessions() as session:
        actions = (await session.scalars(select(AuditLog.action))).all()
    assert "channel.watch" in actions
    await fake.slash(
        fake.owner,
        "admin",
        sub("unwatch", {"name": "channel", "type": 7, "value": str(gallery.id)}),
    )
    await fake.wait_for(lambda: len([c for c in fake.calls if "callback" in c.path]) >= 2)
    unwatched = await fake.post_message(alice, "", image, channel=gallery)
    await answered_marker(fake, bot, alice, photo, channel=gallery)
    assert replies_to(fake, unwatched) == []


async def test_text_without_images_is_ignored(fake: FakeDiscord, bot: BeautyBot, photo) -> None:
    alice = fake.add_user("alice")
    text = await fake.post_message(alice, "hello", mention_bot=True)
    notes = await fake.post_message(
        alice, "", [("notes.txt", b"text", "text/plain")], mention_bot=True
    )
    await answered_marker(fake, bot, alice, photo)
    assert replies_to(fake, text) == [] and replies_to(fake, notes) == []
    (row,) = await requests_rows(bot)  # the marker's only
    assert row.status == RequestStatus.DONE


async def test_missing_attach_permission_is_explained(
    fake: FakeDiscord, start_bot: BotFactory, photo
) -> None:
    locked = fake.add_channel("locked", bot_denied=ATTACH_FILES)
    bot = await start_bot()
    alice = fake.add_user("alice")
    await fake.post_message(
        alice, "", [("p.png", encoded(photo()), "image/png")], channel=locked, mention_bot=True
    )
    explained = await fake.wait_for(
        lambda: next(
            (m for m in fake.channel_messages(locked) if "Attach Files" in m["content"]), None
        )
    )
    assert f"<@{alice.id}>" in explained["content"]
    assert await requests_rows(bot) == []
    interaction = await fake.slash(
        alice, "beautify", files={"file": ("p.png", encoded(photo()), "image/png")}, channel=locked
    )
    assert "Attach Files" in await ephemeral_answer(fake, interaction)


async def test_context_menu_beautifies_a_message(fake: FakeDiscord, bot: BeautyBot, photo) -> None:
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    posted = await fake.post_message(alice, "", [("p.png", encoded(photo()), "image/png")])
    interaction = await fake.context_menu(bob, "Beautify", posted)
    reply = await final_reply(fake, bot, interaction)
    assert reply["attachments"] and "tiny v1" in reply["content"]
    (row,) = await requests_rows(bot)
    assert row.source == RequestSource.CONTEXT_MENU and row.user_id == bob.id


async def test_context_menu_on_a_message_without_images(fake: FakeDiscord, bot: BeautyBot) -> None:
    alice = fake.add_user("alice")
    posted = await fake.post_message(alice, "just words")
    interaction = await fake.context_menu(alice, "Beautify", posted)
    assert "no image or clip" in await ephemeral_answer(fake, interaction)


async def test_expired_token_falls_back_to_a_channel_message(
    fake: FakeDiscord, bot: BeautyBot, photo
) -> None:
    alice = fake.add_user("alice")
    interaction = await fake.slash(
        alice,
        "beautify",
        files={"file": ("p.png", encoded(photo()), "image/png")},
        age_s=15 * 60 - 5,
    )
    posted = await fake.wait_for(
        lambda: next(
            (
                m
                for m in fake.channel_messages(fake.general)
                if m["attachments"] and f"<@{alice.id}>" in m["content"] and "webhook_id" not in m
            ),
            None,
        )
    )
    await idle(bot)
    assert "tiny v1" in posted["content"]
    assert interaction.response_type == 5
