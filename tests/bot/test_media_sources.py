"""End to end on the fake Discord: media beyond attachments (replies, link previews,
stickers), animations answered as animations, and no download from outside Discord."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from PIL import Image

from bot.bot import BeautyBot
from bot.media import LOTTIE_REFUSAL, OFF_DISCORD_REFUSAL
from infra.db.models import RequestKind, RequestStatus
from tests.conftest import GIF_DURATIONS, animation, encoded
from tests.fakediscord import FakeDiscord

from .helpers import final_reply, image_of, reply_to, requests_rows

PANELS = (2 * 64 + 4, 48)  # a 160x120 photo, fitted to the tiny model's 64 px


async def test_a_mention_in_a_reply_translates_the_replied_to_photo(
    fake: FakeDiscord, bot: BeautyBot, photo
) -> None:
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    posted = await fake.post_message(alice, "", [("p.png", encoded(photo()), "image/png")])
    mention = await fake.post_message(bob, "what is this?", mention_bot=True, reply_to=posted)
    reply = await reply_to(fake, bot, mention)
    assert image_of(fake, reply).size == PANELS and "tiny v1" in reply["content"]
    (row,) = await requests_rows(bot)
    assert row.user_id == bob.id and row.status == RequestStatus.DONE


async def test_a_replied_to_message_missing_from_the_event_is_fetched(
    fake: FakeDiscord, bot: BeautyBot, photo
) -> None:
    alice = fake.add_user("alice")
    unseen = await fake.post_message(
        alice, "", [("p.png", encoded(photo()), "image/png")], dispatch=False
    )
    mention = await fake.post_message(
        alice, "", mention_bot=True, reply_to=unseen, referenced="missing"
    )
    reply = await reply_to(fake, bot, mention)
    assert image_of(fake, reply).size == PANELS
    assert any(
        c.method == "GET" and c.path.endswith(f"/messages/{unseen['id']}") for c in fake.calls
    )


async def test_a_reply_to_a_deleted_message_is_told_so(fake: FakeDiscord, bot: BeautyBot) -> None:
    alice = fake.add_user("alice")
    gone = await fake.post_message(alice, "soon gone", dispatch=False)
    mention = await fake.post_message(
        alice, "", mention_bot=True, reply_to=gone, referenced="deleted"
    )
    reply = await reply_to(fake, bot, mention)
    assert reply["content"] == "⚠️ The message you replied to was deleted."


async def test_a_link_preview_is_read_through_discords_media_proxy(
    fake: FakeDiscord, bot: BeautyBot, photo
) -> None:
    alice = fake.add_user("alice")
    embed = fake.embed_image(encoded(photo()), "flower.png")
    posted = await fake.post_message(
        alice, "https://example.com/flower.png", mention_bot=True, embeds=[embed]
    )
    reply = await reply_to(fake, bot, posted)
    assert image_of(fake, reply).size == PANELS
    assert [path for path in fake.fetched if path.startswith("external/")] == [
        embed["thumbnail"]["proxy_url"].split("/cdn/", 1)[1]
    ]


async def test_a_link_preview_that_arrives_after_the_message_is_used(
    fake: FakeDiscord, bot: BeautyBot, photo
) -> None:
    """Discord usually adds a link's preview in a MESSAGE_UPDATE after the message itself."""
    alice = fake.add_user("alice")
    posted = await fake.post_message(alice, "https://tenor.com/view/flower", mention_bot=True)
    await fake.add_preview(posted, [fake.embed_image(encoded(photo()), "flower.png")])
    reply = await reply_to(fake, bot, posted)
    assert image_of(fake, reply).size == PANELS


@pytest.fixture
async def outside() -> AsyncIterator[tuple[str, list[str]]]:
    """A local server standing for an address a user chose: it records every request."""
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=b"GIF89a")

    app = web.Application()
    app.router.add_get("/{path:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", hits
    await runner.cleanup()


async def test_an_embed_outside_discords_hosts_is_never_fetched(
    fake: FakeDiscord, bot: BeautyBot, photo, outside: tuple[str, list[str]]
) -> None:
    address, hits = outside
    alice = fake.add_user("alice")
    embed = fake.embed_image(encoded(photo()), proxied=f"{address}/internal/secret.png")
    posted = await fake.post_message(alice, "look", mention_bot=True, embeds=[embed])
    reply = await reply_to(fake, bot, posted)
    assert reply["content"] == f"⚠️ {OFF_DISCORD_REFUSAL}"
    assert hits == [] and not [p for p in fake.fetched if p.startswith("external/")]


async def test_a_png_sticker_is_translated_and_a_lottie_sticker_explained(
    fake: FakeDiscord, bot: BeautyBot, photo
) -> None:
    alice = fake.add_user("alice")
    png = fake.sticker("flower", 1, encoded(photo()))
    posted = await fake.post_message(alice, "", mention_bot=True, stickers=[png])
    assert image_of(fake, await reply_to(fake, bot, posted)).size == PANELS
    lottie = fake.sticker("dance", 3, b"{}")
    refused = await fake.post_message(alice, "", mention_bot=True, stickers=[lottie])
    assert (await reply_to(fake, bot, refused))["content"] == f"⚠️ {LOTTIE_REFUSAL}"
    assert f"stickers/{png['id']}.png" in fake.fetched
    assert f"stickers/{lottie['id']}.json" not in fake.fetched


def frames_of(data: bytes) -> tuple[int, list[int]]:
    with Image.open(io.BytesIO(data)) as image:
        delays = []
        for index in range(image.n_frames):
            image.seek(index)
            delays.append(image.info["duration"])
        return image.n_frames, delays


async def test_an_animated_gif_comes_back_animated(fake: FakeDiscord, bot: BeautyBot) -> None:
    alice = fake.add_user("alice")
    gif = animation(size=(48, 48))
    posted = await fake.post_message(alice, "", [("dance.gif", gif, "image/gif")], mention_bot=True)
    reply = await reply_to(fake, bot, posted)
    (data,) = fake.files_of(reply)
    assert reply["attachments"][0]["filename"] == "beautynet.gif"
    assert frames_of(data) == (len(GIF_DURATIONS), list(GIF_DURATIONS))
    assert " · animated GIF · " in reply["content"]
    (row,) = await requests_rows(bot)
    assert row.kind == RequestKind.CLIP and row.duration_s == sum(GIF_DURATIONS) / 1000


async def test_a_gif_whose_answer_is_over_the_upload_limit_comes_back_as_an_mp4(
    fake: FakeDiscord, bot: BeautyBot
) -> None:
    alice = fake.add_user("alice")
    gif = {"file": ("dance.gif", animation(size=(96, 96)), "image/gif")}
    roomy = await final_reply(fake, bot, await fake.slash(alice, "beautify", files=gif))
    (as_gif,) = fake.files_of(roomy)
    fake.attachment_size_limit = len(as_gif) - 1
    tight = await final_reply(fake, bot, await fake.slash(alice, "beautify", files=gif))
    (data,) = fake.files_of(tight)
    assert tight["attachments"][0]["filename"] == "beautynet.mp4" and data[4:8] == b"ftyp"
    assert len(data) < len(as_gif) and "MP4 (as a GIF it would be" in tight["content"]
