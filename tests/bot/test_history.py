"""End to end: the line under each result, /history, and /admin stats."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.bot import BeautyBot
from tests.conftest import encoded
from tests.fakediscord import FakeDiscord

from .helpers import Json, ephemeral_answer, final_reply, requests_rows

RESULT_LINE = re.compile(
    r"-# (?P<made_by>.+) · (?P<size>\d+×\d+) · \d+\.\d s · request #(?P<id>\d+)"
)


def link(fake: FakeDiscord, message: Json) -> str:
    return f"https://discord.com/channels/{fake.guild_id}/{fake.general.id}/{message['id']}"


async def test_results_say_what_made_them_and_history_lists_them(
    fake: FakeDiscord, bot: BeautyBot, photo
) -> None:
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    file = {"file": ("p.png", encoded(photo()), "image/png")}
    first = await final_reply(fake, bot, await fake.slash(alice, "beautify", files=file))
    (row,) = await requests_rows(bot)
    more = await final_reply(fake, bot, await fake.click(alice, first, f"bn:k:{row.id}:9"))
    model = [{"name": "model", "type": 3, "value": "tiny-edges"}]
    edges = await final_reply(fake, bot, await fake.slash(alice, "beautify", model, files=file))
    made_by = []
    for result in (first, more, edges):
        found = RESULT_LINE.fullmatch(result["content"])
        assert found is not None, result["content"]
        made_by.append(found["made_by"])
        assert found["size"] == "64×48"  # the interpretation (the tiny models paint 64 px)
    assert made_by == ["tiny v1 · clusters k=7", "tiny v1 · clusters k=9", "tiny-edges v1 · edges"]

    answer = await ephemeral_answer(fake, await fake.slash(alice, "history"))
    title, *lines = answer.splitlines()
    assert title == "**Your latest results**"
    expected = [(edges, "tiny-edges v1** · edges"), (more, "k=9"), (first, "k=7")]
    assert len(lines) == len(expected)
    for line, (result, made) in zip(lines, expected, strict=True):  # newest first
        assert made in line and line.endswith(f"[result]({link(fake, result)})")
        assert re.search(r" · <t:\d+:R> · ", line)
    nothing = await ephemeral_answer(fake, await fake.slash(bob, "history"))
    assert nothing == "You have no results yet; try /beautify."


async def test_admin_stats_counts_by_model_and_day(
    fake: FakeDiscord, bot: BeautyBot, photo
) -> None:
    bot.requests.clock = lambda: datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    alice = fake.add_user("alice")
    file = {"file": ("p.png", encoded(photo()), "image/png")}
    model = [{"name": "model", "type": 3, "value": "tiny-edges"}]
    for options in ([], [], model):
        await final_reply(fake, bot, await fake.slash(alice, "beautify", options, files=file))
    stats = [{"name": "stats", "type": 1, "options": []}]
    refused = await ephemeral_answer(fake, await fake.slash(alice, "admin", stats))
    assert "Manage Server" in refused
    answer = await ephemeral_answer(fake, await fake.slash(fake.owner, "admin", stats))
    by_model, where, by_day, latency = answer.splitlines()
    assert by_model == "**Requests, last 30 days**, by model: tiny 2, tiny-edges 1"
    assert where == "**Where**: by install: guild 3; by channel: guild text 3"
    assert by_day == "**By day**: 2026-12-01 3"
    assert re.fullmatch(
        r"\*\*Latency\*\* \(total, 3 requests\): p50 \d+\.\d s, p90 \d+\.\d s, p99 \d+\.\d s",
        latency,
    )
