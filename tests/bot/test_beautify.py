"""End to end: /beautify, the context menu and watched channels, through the fake Discord."""

from __future__ import annotations

import pytest

from bot.bot import BeautyBot
from infra.db.models import RequestSource, RequestStatus
from tests.conftest import encoded
from tests.fakediscord import FakeDiscord

from .helpers import ephemeral_answer, final_reply, image_of, requests_rows


async def test_beautify_defers_and_delivers(fake: FakeDiscord, bot: BeautyBot, photo) -> None:
    alice = fake.add_user("alice")
    png = encoded(photo(160, 120))
    interaction = await fake.slash(
        alice,
        "beautify",
        [{"name": "panels", "type": 4, "value": 3}],
        files={"file": ("cat.png", png, "image/png")},
    )
    reply = await final_reply(fake, bot, interaction)
    assert interaction.response_type == 5  # deferred ("thinking") first
    assert "tiny v1" in reply["content"]
    assert image_of(fake, reply).size == (3 * 64 + 8, 48)
    (row,) = await requests_rows(bot)
    assert row.status == RequestStatus.DONE and row.source == RequestSource.SLASH
    assert row.user_id == alice.id and row.input_bytes == len(png)
    assert row.output_bytes == len(fake.files_of(reply)[0])


async def test_beautify_with_model_and_k(fake: FakeDiscord, bot: BeautyBot, photo) -> None:
    alice = fake.add_user("alice")
    options = [{"name": "model", "type": 3, "value": "tiny-edges"}]
    interaction = await fake.slash(
        alice, "beautify", options, files={"file": ("a.png", encoded(photo()), "image/png")}
    )
    assert "tiny-edges v1" in (await final_reply(fake, bot, interaction))["content"]
    options = [
        {"name": "model", "type": 3, "value": "tiny-edges"},
        {"name": "k", "type": 4, "value": 3},
    ]
    interaction = await fake.slash(
        alice, "beautify", options, files={"file": ("a.png", encoded(photo()), "image/png")}
    )
    reply = await final_reply(fake, bot, interaction)
    assert "k applies only to clusters models" in reply["content"]


@pytest.mark.parametrize("name", ["text.png", "truncated.jpg", "empty.png", "bomb.png"])
async def test_bad_attachments_get_a_reason(
    fake: FakeDiscord, bot: BeautyBot, bad_inputs, name: str
) -> None:
    content, reason = bad_inputs[name]
    alice = fake.add_user("alice")
    interaction = await fake.slash(alice, "beautify", files={"file": (name, content, "image/png")})
    if name == "empty.png":  # refused from Discord's metadata, before deferring
        assert "empty" in await ephemeral_answer(fake, interaction)
        return
    reply = await final_reply(fake, bot, interaction)
    assert reason in reply["content"] and not reply["attachments"]
    (row,) = await requests_rows(bot)
    assert row.status == RequestStatus.FAILED and reason in (row.reason or "")


async def test_too_big_is_refused_before_any_work(fake: FakeDiscord, bot: BeautyBot) -> None:
    alice = fake.add_user("alice")
    interaction = await fake.slash(
        alice, "beautify", files={"file": ("big.png", b"x" * 2_500_000, "image/png")}
    )
    answer = await ephemeral_answer(fake, interaction)
    assert "the limit is 1.9 MiB" in answer
    assert await requests_rows(bot) == []
    assert not any("/cdn/" in call.path for call in fake.calls)


async def test_unknown_model_is_explained(fake: FakeDiscord, bot: BeautyBot, photo) -> None:
    alice = fake.add_user("alice")
    interaction = await fake.slash(
        alice,
        "beautify",
        [{"name": "model", "type": 3, "value": "nope"}],
        files={"file": ("a.png", encoded(photo()), "image/png")},
    )
    assert "no model called `nope`" in await ephemeral_answer(fake, interaction)


async def test_result_over_the_upload_limit_is_explained(
    fake: FakeDiscord, bot: BeautyBot, photo
) -> None:
    fake.attachment_size_limit = 1000  # smaller than any result
    alice = fake.add_user("alice")
    interaction = await fake.slash(
        alice, "beautify", files={"file": ("a.png", encoded(photo()), "image/png")}
    )
    reply = await final_reply(fake, bot, interaction)
    assert "the result does not fit in 1 KiB" in reply["content"]  # fitted by the engine
    assert not reply["attachments"]


async def test_results_are_made_smaller_to_fit_the_upload_limit(
    fake: FakeDiscord, bot: BeautyBot, photo, make_model, data_dir
) -> None:
    make_model("big", directory=data_dir / "models", size=256)
    bot.catalog.invalidate()
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    options = [{"name": "model", "type": 3, "value": "big"}]
    file = {"file": ("a.png", encoded(photo(400, 300)), "image/png")}
    full = await final_reply(fake, bot, await fake.slash(alice, "beautify", options, files=file))
    (full_bytes,) = fake.files_of(full)
    fake.attachment_size_limit = len(full_bytes) - 1
    fitted = await final_reply(fake, bot, await fake.slash(bob, "beautify", options, files=file))
    (fitted_bytes,) = fake.files_of(fitted)
    assert len(fitted_bytes) < len(full_bytes)
    assert image_of(fake, fitted).width < image_of(fake, full).width == 2 * 256 + 4
