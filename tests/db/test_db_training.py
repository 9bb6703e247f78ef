"""Training runs are recorded when they start and when they end, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from infra.db.models import TrainingRun, TrainingStatus
from infra.db.session import Database
from infra.db.training import (
    RESTART_REASON,
    NewRun,
    finish_run,
    recent_runs,
    settle_interrupted_runs,
    start_run,
)

from .conftest import T0

GUILD = 2**62 + 5


def run(name: str = "flowers", **who: object) -> NewRun:
    return NewRun(name, "garden", "clusters k=7", {"time_budget": "2h"}, **who)  # type: ignore[arg-type]


async def test_a_run_is_recorded_from_start_to_end(db: Database) -> None:
    run_id = await start_run(db.sessions, run(user_id=42, guild_id=GUILD), now=T0)
    async with db.sessions() as session:
        [row] = await recent_runs(session)
    assert (row.id, row.status, row.finished_at) == (run_id, TrainingStatus.RUNNING, None)
    assert (row.model_name, row.dataset, row.segmenter, row.parameters) == (
        "flowers",
        "garden",
        "clusters k=7",
        {"time_budget": "2h"},
    )
    assert (row.user_id, row.guild_id, row.cli_user, row.started_at) == (42, GUILD, None, T0)
    end = T0 + timedelta(hours=2)
    metrics = {"l1": 0.125, "psnr": 17.5}
    await finish_run(
        db.sessions, run_id, TrainingStatus.FINISHED, now=end, model_version=3, metrics=metrics
    )
    async with db.sessions() as session:
        row = await session.get(TrainingRun, run_id)
    assert row is not None
    assert (row.status, row.model_version, row.metrics, row.finished_at) == (
        TrainingStatus.FINISHED,
        3,
        metrics,
        end,
    )


async def test_a_run_ends_once(db: Database) -> None:
    run_id = await start_run(db.sessions, run(cli_user="alice"), now=T0)
    await finish_run(db.sessions, run_id, TrainingStatus.FAILED, now=T0, reason="no dataset")
    with pytest.raises(ValueError, match="no such running training run"):
        await finish_run(db.sessions, run_id, TrainingStatus.CANCELLED, now=T0)
    with pytest.raises(ValueError, match="a run ends"):
        await finish_run(db.sessions, run_id, TrainingStatus.RUNNING, now=T0)
    async with db.sessions() as session:
        [row] = await recent_runs(session)
    assert (row.status, row.reason, row.cli_user) == (TrainingStatus.FAILED, "no dataset", "alice")


async def test_recent_runs_newest_first_per_guild(db: Database) -> None:
    for minutes, guild in [(0, GUILD), (5, None), (2, GUILD), (9, GUILD + 1)]:
        who = {"user_id": 1, "guild_id": guild} if guild else {"cli_user": "root"}
        await start_run(db.sessions, run(f"m{minutes}", **who), now=T0 + timedelta(minutes=minutes))
    async with db.sessions() as session:
        assert [r.model_name for r in await recent_runs(session, limit=3)] == ["m9", "m5", "m2"]
        here = await recent_runs(session, guild_id=GUILD)
        with pytest.raises(ValueError, match="limit"):
            await recent_runs(session, limit=0)
    assert [r.model_name for r in here] == ["m2", "m0"]


def test_a_run_names_exactly_one_starter() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        run()
    with pytest.raises(ValueError, match="exactly one"):
        run(user_id=1, cli_user="alice")


async def test_a_restart_settles_only_its_own_running_runs(db: Database) -> None:
    ours = await start_run(db.sessions, run("a", user_id=1, worker="bot:shards=0"), now=T0)
    theirs = await start_run(db.sessions, run("b", user_id=1, worker="bot:shards=1"), now=T0)
    cli = await start_run(db.sessions, run("c", cli_user="alice"), now=T0)
    done = await start_run(db.sessions, run("d", user_id=1, worker="bot:shards=0"), now=T0)
    await finish_run(db.sessions, done, TrainingStatus.FINISHED, now=T0, model_version=1)
    later = T0 + timedelta(hours=1)
    assert await settle_interrupted_runs(db.sessions, "bot:shards=0", now=later) == 1
    async with db.sessions() as session:
        rows = {row.id: row for row in await recent_runs(session)}
    assert (rows[ours].status, rows[ours].reason, rows[ours].finished_at) == (
        TrainingStatus.FAILED,
        RESTART_REASON,
        later,
    )
    assert [rows[i].status for i in (theirs, cli, done)] == [
        TrainingStatus.RUNNING,
        TrainingStatus.RUNNING,
        TrainingStatus.FINISHED,
    ]
