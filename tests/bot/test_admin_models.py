"""End to end: /models, /model use, /admin model ..., /admin status, and admin permission checks."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.bot import BeautyBot
from infra.db.models import AuditLog
from tests.conftest import auto_cpu_runtime, encoded
from tests.fakediscord import FakeDiscord

from .conftest import BotFactory
from .helpers import GatedEngine, Json, ephemeral_answer, final_reply, replies_to, reply_to


def sub(name: str, *options: Json) -> list[Json]:
    return [{"name": name, "type": 1, "options": list(options)}]


def model_sub(name: str, *options: Json) -> list[Json]:
    return [{"name": "model", "type": 2, "options": sub(name, *options)}]


def text(name: str, value: str) -> Json:
    return {"name": name, "type": 3, "value": value}


async def actions(bot: BeautyBot) -> list[str]:
    async with bot.db.sessions() as session:
        return list((await session.scalars(select(AuditLog.action).order_by(AuditLog.id))).all())


async def beautify_model(fake: FakeDiscord, bot: BeautyBot, user, photo, channel=None) -> str:
    """The model label in the caption of a plain /beautify by `user`."""
    interaction = await fake.slash(
        user, "beautify", files={"file": ("p.png", encoded(photo()), "image/png")}
    )
    return (await final_reply(fake, bot, interaction))["content"]


async def test_models_lists_served_models(fake: FakeDiscord, bot: BeautyBot) -> None:
    alice = fake.add_user("alice")
    interaction = await fake.slash(alice, "models")
    await fake.wait_for(lambda: interaction.callbacks)
    data = interaction.callbacks[0]["data"]
    titles = [embed["title"] for embed in data["embeds"]]
    assert titles == ["tiny v1 (server default)", "tiny-edges v1"]
    assert data["flags"] & 64
    assert data["embeds"][1]["fields"][0]["value"] == "edges"


async def test_model_choice_precedence(fake: FakeDiscord, bot: BeautyBot, photo) -> None:
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    assert "tiny v1" in await beautify_model(fake, bot, alice, photo)
    answer = await fake.slash(fake.owner, "admin", model_sub("default", text("name", "tiny-edges")))
    assert "tiny-edges" in await ephemeral_answer(fake, answer)
    assert "tiny-edges v1" in await beautify_model(fake, bot, alice, photo)  # guild
    answer = await fake.slash(bob, "model", sub("use", text("name", "tiny")))
    assert "`tiny`" in await ephemeral_answer(fake, answer)
    assert "tiny v1 · " in await beautify_model(fake, bot, bob, photo)  # user over guild
    assert "tiny-edges v1" in await beautify_model(fake, bot, alice, photo)
    answer = await fake.slash(bob, "model", sub("use", text("name", "nope")))
    assert "no model called `nope`" in await ephemeral_answer(fake, answer)
    assert "guild.update" in await actions(bot)


async def test_model_autocomplete(fake: FakeDiscord, bot: BeautyBot) -> None:
    alice = fake.add_user("alice")
    options = sub("use", {"name": "name", "type": 3, "value": "edg", "focused": True})
    interaction = await fake.autocomplete(alice, "model", options)
    await fake.wait_for(lambda: interaction.callbacks)
    assert interaction.callbacks[0]["type"] == 8
    choices = [c["value"] for c in interaction.callbacks[0]["data"]["choices"]]
    assert choices == ["tiny-edges", "tiny-edges@1"]


async def test_non_admin_is_denied(fake: FakeDiscord, bot: BeautyBot) -> None:
    mallory = fake.add_user("mallory")
    for options in (
        sub("status"),
        model_sub("default", text("name", "tiny")),
        sub("watch", {"name": "channel", "type": 7, "value": str(fake.general.id)}),
    ):
        interaction = await fake.slash(mallory, "admin", options)
        assert "Manage Server" in await ephemeral_answer(fake, interaction)
    assert await actions(bot) == []


async def test_admin_group_is_hidden_by_default_permissions(
    fake: FakeDiscord, bot: BeautyBot
) -> None:
    await bot.sync_commands(fake.guild_id)
    commands = {c["name"]: c for c in fake.commands[str(fake.guild_id)]}
    assert {"beautify", "models", "model", "admin", "Beautify"} <= set(commands)
    assert int(commands["admin"]["default_member_permissions"]) == 1 << 5  # Manage Server
    assert commands["beautify"]["default_member_permissions"] is None


async def test_owner_id_is_an_admin_anywhere(fake: FakeDiscord, start_bot: BotFactory) -> None:
    carol = fake.add_user("carol")
    await start_bot(owner_ids=[carol.id])
    interaction = await fake.slash(carol, "admin", sub("status"))
    answer = await fake.wait_for(lambda: interaction.callbacks)
    assert "**Queue**" in answer[0]["data"]["content"]
    assert "**Runtime**: " in answer[0]["data"]["content"]  # none yet, or the default model


async def test_promote_rollback_delete(
    fake: FakeDiscord, bot: BeautyBot, make_model, data_dir, photo
) -> None:
    make_model("tiny", directory=data_dir / "models", version=2, seed=3)
    bot.catalog.invalidate()
    owner = fake.owner
    answer = await fake.slash(owner, "admin", model_sub("promote", text("name", "tiny")))
    assert "Now serving tiny v2" in await ephemeral_answer(fake, answer)
    assert "tiny v2" in await beautify_model(fake, bot, fake.add_user("alice"), photo)
    answer = await fake.slash(
        owner,
        "admin",
        model_sub("delete", text("name", "tiny"), {"name": "version", "type": 4, "value": 2}),
    )
    assert "being served" in await ephemeral_answer(fake, answer)
    answer = await fake.slash(owner, "admin", model_sub("rollback", text("name", "tiny")))
    assert "now serving tiny v1" in await ephemeral_answer(fake, answer)
    answer = await fake.slash(
        owner,
        "admin",
        model_sub("delete", text("name", "tiny"), {"name": "version", "type": 4, "value": 2}),
    )
    assert "Deleted tiny v2" in await ephemeral_answer(fake, answer)
    assert not (data_dir / "models" / "tiny-v2.pt").exists()
    assert await actions(bot) == ["model.promote", "model.rollback", "model.delete"]


async def test_status(fake: FakeDiscord, bot: BeautyBot, photo) -> None:
    await beautify_model(fake, bot, fake.add_user("alice"), photo)  # loads the default model
    interaction = await fake.slash(fake.owner, "admin", sub("status"))
    answer = await ephemeral_answer(fake, interaction)
    assert "0 running, 0 waiting, capacity 4" in answer  # the shared queue, empty
    assert "InProcessEngine on cpu" in answer and "tiny v1 (default)" in answer
    assert f"**Runtime**: tiny v1 on {auto_cpu_runtime()}, batch " in answer
    assert "**Trainings**: none" in answer


async def test_guild_limits_are_enforced(fake: FakeDiscord, bot: BeautyBot, photo) -> None:
    options = [
        {
            "name": "limits",
            "type": 1,
            "options": [
                {"name": "max_image_mb", "type": 10, "value": 0.01},
                {"name": "requests_per_hour", "type": 4, "value": 1},
            ],
        },
    ]
    answer = await ephemeral_answer(fake, await fake.slash(fake.owner, "admin", options))
    assert "1 requests per user per hour" in answer
    alice = fake.add_user("alice")
    big = {"file": ("big.png", encoded(photo(300, 300)), "image/png")}
    refused = await fake.slash(alice, "beautify", files=big)
    assert "the limit is 10 KiB" in await ephemeral_answer(fake, refused)
    assert "tiny v1" in await beautify_model(fake, bot, alice, lambda: photo(40, 30))
    again = await fake.slash(
        alice, "beautify", files={"file": ("p.png", encoded(photo(40, 30)), "image/png")}
    )
    assert "1 requests per hour each" in await ephemeral_answer(fake, again)
    assert "guild.update" in await actions(bot)


async def test_models_shows_sample_sheets(
    fake: FakeDiscord, bot: BeautyBot, data_dir, photo
) -> None:
    photo(60, 40).save(data_dir / "models" / "tiny-v1.png")
    bot.catalog.invalidate()
    interaction = await fake.slash(fake.add_user("alice"), "models")
    await fake.wait_for(lambda: interaction.callbacks)
    data = interaction.callbacks[0]["data"]
    assert data["embeds"][0]["image"]["url"] == "attachment://tiny-v1.png"
    assert "image" not in data["embeds"][1]
    call = next(c for c in fake.calls if f"/interactions/{interaction.id}/" in c.path)
    assert [name for name, _ in call.files] == ["tiny-v1.png"]


async def test_status_shows_the_shared_queue_per_process(
    fake: FakeDiscord, start_bot: BotFactory, engine, photo
) -> None:
    gated = GatedEngine(engine)
    bot = await start_bot(engine_client=gated, queue_size=10)
    image = [("p.png", encoded(photo()), "image/png")]
    posted = [
        await fake.post_message(fake.add_user(name), "", image, mention_bot=True)
        for name in ("alice", "bob")
    ]
    await asyncio.wait_for(gated.entered.wait(), 20)
    await fake.wait_for(
        lambda: any("position 1" in r["content"] for r in replies_to(fake, posted[1]))
    )
    interaction = await fake.slash(fake.owner, "admin", sub("status"))
    answer = await ephemeral_answer(fake, interaction)
    assert "**Queue** (shared): 1 running (1 on `bot` (this process)), 1 waiting" in answer
    gated.open()
    for message in posted:
        assert (await reply_to(fake, bot, message))["attachments"]
