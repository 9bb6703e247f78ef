"""The bot's queries give the same answers on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from infra.db.models import (
    ChannelKind,
    InstallContext,
    Request,
    RequestKind,
    RequestSource,
    RequestStage,
    RequestStatus,
)
from infra.db.queries import (
    count_user_requests,
    counts_by,
    counts_by_day,
    recent_requests,
    stage_latencies,
)
from infra.db.session import Database

from .conftest import T0


def request(
    user_id: int = 1, guild_id: int | None = 10, model: str = "flowers", **fields
) -> Request:
    """A finished request row (queued at T0 unless told)."""
    values = dict(
        user_id=user_id,
        guild_id=guild_id,
        model=model,
        source=RequestSource.MESSAGE,
        kind=RequestKind.IMAGE,
        status=RequestStatus.DONE,
        queued_at=T0,
        finished_at=T0,
    )
    return Request(**{**values, **fields})


async def add(db: Database, *rows: object) -> None:
    async with db.sessions.begin() as session:
        session.add_all(rows)


async def test_recent_requests_are_a_users_newest_first(db: Database) -> None:
    await add(db, *(request(queued_at=T0 + timedelta(minutes=i), model=f"m{i}") for i in range(12)))
    await add(db, request(user_id=2), request(guild_id=11, queued_at=T0 + timedelta(hours=1)))
    async with db.sessions() as session:
        rows = await recent_requests(session, 1, limit=10)
        in_guild = await recent_requests(session, 1, limit=3, guild_id=10)
        with pytest.raises(ValueError, match="limit=0"):
            await recent_requests(session, 1, limit=0)
    assert [r.guild_id for r in rows[:1]] == [11]
    assert [r.model for r in rows[1:]] == [f"m{i}" for i in range(11, 2, -1)]
    assert [r.model for r in in_guild] == ["m11", "m10", "m9"]


async def test_recent_results_and_a_users_count_since(db: Database) -> None:
    hour_ago = T0 - timedelta(hours=1)
    await add(
        db,
        request(queued_at=hour_ago - timedelta(seconds=1), model="old"),  # before the window
        request(queued_at=hour_ago, model="first"),
        request(queued_at=T0, status=RequestStatus.FAILED, model="failed"),
        request(queued_at=T0, status=RequestStatus.CANCELLED, model="cancelled"),
        request(queued_at=T0, guild_id=11, model="elsewhere"),
        request(user_id=2, queued_at=T0),
    )
    async with db.sessions() as session:
        used = await count_user_requests(session, 1, 10, since=hour_ago)
        done = await recent_requests(session, 1, status=RequestStatus.DONE)
    assert used == 2  # first and failed; cancelled ones do not count
    assert [r.model for r in done] == ["elsewhere", "first", "old"]


async def test_guild_counts_by_model_and_by_utc_day(db: Database) -> None:
    midnight = T0.replace(hour=0)
    rows = [
        request(model="flowers", queued_at=midnight - timedelta(seconds=1)),  # April 30
        request(model="flowers", queued_at=midnight),  # May 1
        request(model="edges", queued_at=midnight + timedelta(hours=23, minutes=59)),
        request(model="flowers", queued_at=midnight + timedelta(days=2)),  # May 3
        request(model="flowers", guild_id=99, queued_at=midnight),  # another guild
    ]
    await add(db, *rows)
    async with db.sessions() as session:
        by_model = await counts_by(session, Request.model, 10)
        by_day = await counts_by_day(session, 10)
        since_may = await counts_by_day(session, 10, since=midnight)
        model_since_may = await counts_by(session, Request.model, 10, since=midnight)
    assert by_model == [("flowers", 3), ("edges", 1)]
    assert by_day == [(date(2024, 4, 30), 1), (date(2024, 5, 1), 2), (date(2024, 5, 3), 1)]
    assert since_may == by_day[1:]
    assert model_since_may == [("flowers", 2), ("edges", 1)]


async def test_counts_by_install_and_channel_kind_here_and_everywhere(db: Database) -> None:
    user, guild = InstallContext.USER, InstallContext.GUILD
    rows = [
        request(install=guild, channel_kind=ChannelKind.GUILD_TEXT),
        request(install=guild, channel_kind=ChannelKind.GUILD_TEXT),
        request(install=user, channel_kind=ChannelKind.GUILD_THREAD),
        request(guild_id=None, install=user, channel_kind=ChannelKind.DM),
        request(guild_id=None, install=user, channel_kind=ChannelKind.GROUP_DM),
        request(guild_id=None, install=None, channel_kind=None, source=RequestSource.CLI),
    ]
    await add(db, *rows)
    async with db.sessions() as session:
        installs_here = await counts_by(session, Request.install, 10)
        kinds_here = await counts_by(session, Request.channel_kind, 10)
        installs_everywhere = await counts_by(session, Request.install, None)
        kinds_everywhere = dict(await counts_by(session, Request.channel_kind, None))
    assert installs_here == [(guild, 2), (user, 1)]
    assert kinds_here == [(ChannelKind.GUILD_TEXT, 2), (ChannelKind.GUILD_THREAD, 1)]
    assert installs_everywhere == [(user, 3), (guild, 2), (None, 1)]  # None: not from Discord
    assert kinds_everywhere == {
        ChannelKind.GUILD_TEXT: 2,
        ChannelKind.GUILD_THREAD: 1,
        ChannelKind.DM: 1,
        ChannelKind.GROUP_DM: 1,
        None: 1,
    }


async def test_stage_latency_percentiles(db: Database) -> None:
    translate = [float(s) for s in range(1, 101)]
    random.Random(5).shuffle(translate)
    rows = []
    for i, seconds in enumerate(translate):
        row = request(queued_at=T0 + timedelta(seconds=i))
        row.stages = [RequestStage(stage="translate", seconds=seconds)]
        if i == 0:
            row.stages.append(RequestStage(stage="segment", seconds=0.25))
        rows.append(row)
    other = request(guild_id=99)
    other.stages = [RequestStage(stage="translate", seconds=1000.0)]
    await add(db, *rows, other)
    async with db.sessions() as session:
        in_guild = await stage_latencies(session, guild_id=10)
        everywhere = await stage_latencies(session, percentiles=(50, 100))
        late = await stage_latencies(session, guild_id=10, since=T0 + timedelta(seconds=90))
        with pytest.raises(ValueError, match="percentiles"):
            await stage_latencies(session, percentiles=(0,))
    assert [(s.stage, s.count, s.percentiles) for s in in_guild] == [
        ("segment", 1, {50: 0.25, 90: 0.25, 99: 0.25}),
        ("translate", 100, {50: 50.0, 90: 90.0, 99: 99.0}),
    ]
    assert everywhere[1].count == 101 and everywhere[1].percentiles == {50: 51.0, 100: 1000.0}
    assert [s.count for s in late] == [10]
