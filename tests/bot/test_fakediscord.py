"""The fake Discord server: the unmodified discord.py client logs in and talks to it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import discord
import pytest
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.endpoints import discord_endpoints
from tests.fakediscord import FakeDiscord


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[commands.Bot]:
    intents = discord.Intents.default()
    intents.message_content = True
    with discord_endpoints(fake.api_base, fake.gateway_url):
        bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.05)
        task = asyncio.create_task(bot.start("fake-token"))
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        yield bot
        await bot.close()
        await asyncio.wait_for(task, 10)


def test_endpoints_are_restored() -> None:
    before = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    with discord_endpoints("http://localhost:1/api/v10/", "ws://localhost:1/gateway"):
        assert Route.BASE == "http://localhost:1/api/v10"
        assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "ws://localhost:1/gateway"
    assert before == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)


async def test_bot_logs_in_and_sees_the_guild(fake: FakeDiscord, client: commands.Bot) -> None:
    assert client.user is not None and client.user.id == fake.bot_user.id
    assert client.application_id == fake.application_id
    (guild,) = client.guilds
    assert guild.id == fake.guild_id and guild.name == "Fake Guild"
    assert [channel.name for channel in guild.text_channels] == ["general"]
    assert guild.me is not None and guild.me.guild_permissions.attach_files
    assert guild.owner_id == fake.owner.id
    assert fake.calls[0].path == "/users/@me"


async def test_messages_attachments_and_replies(fake: FakeDiscord, client: commands.Bot) -> None:
    received: asyncio.Queue[discord.Message] = asyncio.Queue()
    client.add_listener(received.put, "on_message")
    alice = fake.add_user("alice")
    await fake.post_message(alice, "look", files=[("a.png", b"\x89PNG data", "image/png")])
    message = await asyncio.wait_for(received.get(), 10)
    assert message.author.id == alice.id and message.content == "look"
    assert await message.attachments[0].read() == b"\x89PNG data"
    reply = await message.reply("hello", file=discord.File(io.BytesIO(_bytes()), "out.png"))
    stored = fake.messages[reply.id]
    assert int(stored["message_reference"]["message_id"]) == message.id
    assert fake.files_of(stored) == [_bytes()]
    await reply.edit(content="edited")
    assert fake.messages[reply.id]["content"] == "edited"
    await reply.delete()
    assert reply.id not in fake.messages


async def test_missing_permissions_are_forbidden(fake: FakeDiscord, client: commands.Bot) -> None:
    from tests.fakediscord.payloads import ATTACH_FILES

    channel = fake.add_channel("no-files", bot_denied=ATTACH_FILES)
    target = client.get_partial_messageable(channel.id)
    with pytest.raises(discord.Forbidden):
        await target.send(file=discord.File(io.BytesIO(_bytes()), "x.png"))
    assert (await target.send("text only")).content == "text only"


async def test_channels_the_bot_is_not_in_are_refused(
    fake: FakeDiscord, client: commands.Bot
) -> None:
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    elsewhere = fake.add_guild("No bot", bot=False)
    assert [guild.id for guild in client.guilds] == [fake.guild_id]
    for channel in (fake.add_private_channel(alice, bob), elsewhere):
        target = client.get_partial_messageable(channel.id)
        with pytest.raises(discord.Forbidden) as refused:
            await target.send("hello")
        assert refused.value.code == 50001  # Missing Access
    assert (await client.get_partial_messageable(fake.bot_dm(alice).id).send("hi")).content == "hi"


def _bytes() -> bytes:
    return b"result-bytes"
