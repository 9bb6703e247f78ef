"""Migrations match the models, go up and down, and the start-up check refuses a stale schema."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, Integer, MetaData, String, inspect, text

from infra.db import schema
from infra.db.models import PGQUEUER_TABLES, Base
from infra.db.session import Database, open_database
from infra.settings import Settings

TABLES = set(Base.metadata.tables)


def _diff(connection: Connection, metadata: MetaData = Base.metadata) -> list[object]:
    opts = {"compare_type": True, "include_object": schema.ours}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_autogenerate_finds_no_difference(db: Database) -> None:
    async with db.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_autogenerate_comparison_notices_a_change(db: Database) -> None:
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["requests"].append_column(Column("extra", Integer))
    changed.tables["training_runs"].c.model_name.type = String(10)
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(_diff, changed)
    assert [d[0] for d in diff if isinstance(d, tuple)] == ["add_column"]
    assert any(isinstance(d, list) and d[0][0] == "modify_type" for d in diff)


async def test_models_are_the_tables_the_code_writes() -> None:
    assert {
        "guild_settings",
        "watched_channels",
        "user_preferences",
        "requests",
        "request_stages",
        "training_runs",
        "audit_log",
        "request_jobs",
    } == TABLES  # `models` and `datasets` were never written: revision 0003 dropped them


async def test_upgrade_empty_database_to_head_and_back(db_url: str) -> None:
    db = Database.from_url(db_url)
    try:
        assert await schema.current_revision(db.engine) is None
        await schema.upgrade(db.engine)
        assert await schema.current_revision(db.engine) == schema.head_revision()
        async with db.engine.connect() as conn:
            found = await conn.run_sync(_tables)
        library = PGQUEUER_TABLES if db.engine.dialect.name == "postgresql" else set()
        assert found == TABLES | library | {"alembic_version"}
        await schema.downgrade(db.engine, "base")
        assert await schema.current_revision(db.engine) is None
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_tables) <= {"alembic_version"}
        await schema.upgrade(db.engine)  # and up again: the downgrade left nothing behind
        await schema.check_schema(db.engine)
    finally:
        await db.dispose()


async def test_check_refuses_an_empty_database(db_url: str) -> None:
    db = Database.from_url(db_url)
    try:
        with pytest.raises(schema.SchemaError, match=r"empty, code needs .*beautynet db upgrade"):
            await schema.check_schema(db.engine)
    finally:
        await db.dispose()


async def test_check_refuses_an_older_schema(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    current = schema.head_revision()
    monkeypatch.setattr(schema, "head_revision", lambda: "9999")
    expected = f"database schema is at {current}, code needs 9999: run `beautynet db upgrade`"
    with pytest.raises(schema.SchemaError) as caught:
        await schema.check_schema(db.engine)
    assert str(caught.value) == expected


async def test_check_refuses_a_newer_unknown_schema(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    with pytest.raises(schema.SchemaError, match="at f00dcafe, which this code does not know"):
        await schema.check_schema(db.engine)


async def test_open_database_checks_and_creates_only_when_asked(db_url: str, tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    with pytest.raises(schema.SchemaError):
        async with open_database(settings):
            pass
    async with open_database(settings, create_if_empty=True) as db:
        assert await schema.current_revision(db.engine) == schema.head_revision()
    async with open_database(settings) as db:  # now passes the check
        assert db.sessions is not None


_OPEN_AND_CREATE = """
import asyncio, sys
from infra.db.session import open_database
from infra.settings import Settings

async def main():
    async with open_database(Settings(database_url=sys.argv[1]), create_if_empty=True):
        pass

asyncio.run(main())
"""


def test_processes_that_find_the_database_empty_together_all_open_it(tmp_path) -> None:
    """Two trainings started at once on a new data folder each create the schema."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AND_CREATE, url], stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=120)[1] for process in processes]
    if any(process.returncode for process in processes):
        pytest.fail("\n".join(errors))  # whole tracebacks: pytest shortens an assertion's


async def test_schema_creation_waits_for_the_process_holding_the_lock(db_url: str) -> None:
    first, second = Database.from_url(db_url), Database.from_url(db_url)
    try:
        async with first.engine.connect() as holder:
            await holder.exec_driver_sql(schema.SCHEMA_LOCK[holder.dialect.name])
            creating = asyncio.create_task(schema.create_if_empty(second.engine))
            await asyncio.sleep(1.0)
            assert not creating.done()
            await holder.commit()
        assert await asyncio.wait_for(creating, timeout=30) is True
        assert await schema.current_revision(first.engine) == schema.head_revision()
        assert await schema.create_if_empty(first.engine) is False
    finally:
        await first.dispose()
        await second.dispose()


async def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path) -> None:
    db = Database.from_url(f"sqlite:///{tmp_path / 'deep' / 'er' / 'b.sqlite3'}")
    try:
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 30_000
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await db.dispose()
    assert (tmp_path / "deep" / "er" / "b.sqlite3").exists()


async def test_0003_keeps_requests_and_audit_rows_and_goes_back(db_url: str) -> None:
    db = Database.from_url(db_url)
    try:
        await schema.upgrade(db.engine, "0002")
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO requests (user_id, source, kind, model, parameters, status,"
                    " attempts, queued_at, input_content) VALUES (7, 'slash', 'image', 'nature',"
                    " '{}', 'done', 1, '2026-12-01 10:00:00', :content)"
                ),
                {"content": b"pixels"},
            )
            await conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor_id, action, details)"
                    " VALUES ('2026-12-01 10:00:00', 7, 'model.promote', '{}')"
                )
            )
        await schema.upgrade(db.engine)
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("SELECT user_id, model FROM requests"))).all() == [
                (7, "nature")
            ]
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("requests")}
            )
            assert "input_content" not in columns
            await conn.execute(
                text(
                    "INSERT INTO audit_log (at, cli_user, action, details)"
                    " VALUES ('2026-12-01 11:00:00', 'alice', 'model.rollback', '{}')"
                )
            )
            await conn.commit()
            found = await conn.run_sync(_tables)
        library = PGQUEUER_TABLES if db.engine.dialect.name == "postgresql" else set()
        assert found == TABLES | library | {"alembic_version"}
        await schema.downgrade(db.engine, "0002")
        async with db.engine.connect() as conn:
            actors = (await conn.execute(text("SELECT actor_id FROM audit_log ORDER BY id"))).all()
            assert actors == [(7,), (0,)]  # the old schema has no place for a CLI login
            assert {"models", "datasets"} <= await conn.run_sync(_tables)
        await schema.upgrade(db.engine)
        await schema.check_schema(db.engine)
    finally:
        await db.dispose()
