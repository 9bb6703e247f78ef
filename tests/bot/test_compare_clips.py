"""End to end: /compare (every model in one grid) and clips through the bot."""

from __future__ import annotations

from pathlib import Path

from bot.bot import BeautyBot
from infra.db.models import RequestStatus
from infra.db.requests import input_hash
from tests.conftest import encoded, make_clip
from tests.fakediscord import FakeDiscord

from .helpers import Json, ephemeral_answer, final_reply, image_of, requests_rows

CLIP_SECONDS = 0.5


async def test_compare_puts_every_model_in_one_grid(
    fake: FakeDiscord, bot: BeautyBot, photo
) -> None:
    alice = fake.add_user("alice")
    interaction = await fake.slash(
        alice, "compare", files={"file": ("p.png", encoded(photo(160, 120)), "image/png")}
    )
    reply = await final_reply(fake, bot, interaction)
    grid = image_of(fake, reply)
    assert grid.width == 2 * 64 + 4  # drawn by the engine's compose: original | interpretation
    assert grid.height == 2 * (16 + 48) + 3 * 4  # two models, each under its label
    (row,) = await requests_rows(bot)
    assert row.status == RequestStatus.DONE and row.model == "compare"


async def test_compare_refuses_clips(fake: FakeDiscord, bot: BeautyBot, tmp_path: Path) -> None:
    alice = fake.add_user("alice")
    interaction = await fake.slash(
        alice, "compare", files={"file": ("c.mp4", clip_bytes(tmp_path), "video/mp4")}
    )
    assert "works on still images" in (await final_reply(fake, bot, interaction))["content"]


async def test_a_clip_comes_back_as_an_mp4(
    fake: FakeDiscord, bot: BeautyBot, tmp_path: Path
) -> None:
    alice = fake.add_user("alice")
    clip = clip_bytes(tmp_path)
    interaction = await fake.slash(
        alice, "beautify", files={"file": ("clip.mp4", clip, "video/mp4")}
    )
    reply = await final_reply(fake, bot, interaction)
    (data,) = fake.files_of(reply)
    assert data[4:8] == b"ftyp" and reply["attachments"][0]["filename"] == "beautynet.mp4"
    assert reply["content"].startswith("-# tiny v1 · clusters k=7 · ")
    (row,) = await requests_rows(bot)
    assert row.status == RequestStatus.DONE and row.kind == "clip"
    assert row.input_hash == input_hash(clip)  # what was downloaded, and how long it ran
    assert row.duration_s is not None and abs(row.duration_s - CLIP_SECONDS) < 0.1


async def test_a_guild_can_cap_clip_length(
    fake: FakeDiscord, bot: BeautyBot, tmp_path: Path
) -> None:
    def limits(seconds: float) -> list[Json]:
        option = {"name": "max_clip_seconds", "type": 10, "value": seconds}
        return [{"name": "limits", "type": 1, "options": [option]}]

    answer = await ephemeral_answer(fake, await fake.slash(fake.owner, "admin", limits(0.2)))
    assert "clips up to 0.2 s" in answer
    alice = fake.add_user("alice")
    clip = {"file": ("clip.mp4", clip_bytes(tmp_path), "video/mp4")}
    refused = await final_reply(fake, bot, await fake.slash(alice, "beautify", files=clip))
    reason = "clip too long (0.5 s, limit 0.2 s)"  # the engine reads the length, once
    assert refused["content"] == f"⚠️ {reason}"
    answer = await ephemeral_answer(fake, await fake.slash(fake.owner, "admin", limits(0)))
    assert "clips up to 20 s" in answer
    allowed = await final_reply(fake, bot, await fake.slash(alice, "beautify", files=clip))
    assert allowed["attachments"]
    assert [(row.status, row.reason) for row in await requests_rows(bot)] == [
        (RequestStatus.FAILED, reason),
        (RequestStatus.DONE, None),
    ]


def clip_bytes(tmp_path: Path) -> bytes:
    return make_clip(tmp_path / "clip.mp4", CLIP_SECONDS, audio=False).read_bytes()
