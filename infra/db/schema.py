"""Alembic from code: upgrade, downgrade, current revision, creating an empty database
under a lock, and the start-up schema check."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db.errors import SchemaError
from infra.db.models import PGQUEUER_TABLES

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"  # a checkout's; an installed package has none
# A wheel carries `migrations/` as the package `infra.db.migrations` (see setup.py); a
# checkout, and an editable install of one, keeps it at the top level.
MIGRATIONS_DIRS = (Path(__file__).resolve().parent / "migrations", PROJECT_ROOT / "migrations")
UPGRADE_HINT = "run `beautynet db upgrade`"


def ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Whether a schema object is beautynet's (Alembic's `include_object`): the job-queue
    library's tables, installed by revision 0005 on PostgreSQL, are not compared."""
    return not (type_ == "table" and name in PGQUEUER_TABLES)


def migrations_dir() -> Path:
    """The migration scripts: installed beside this module, else the checkout's."""
    found = next((folder for folder in MIGRATIONS_DIRS if folder.is_dir()), None)
    if found is None:
        raise SchemaError(
            f"migrations folder missing: looked in {', '.join(map(str, MIGRATIONS_DIRS))}"
        )
    return found


def alembic_config() -> Config:
    """Alembic's configuration, pointing at the migrations wherever the project lives."""
    config = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.is_file() else Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revision() -> str:
    """The revision the code needs: the single head of the migration scripts."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise SchemaError("the migrations folder holds no revision")
    return head


def _known_revision(revision: str) -> bool:
    script = ScriptDirectory.from_config(alembic_config())
    return any(rev.revision == revision for rev in script.walk_revisions())


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current_revision)


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def check_schema(engine: AsyncEngine) -> None:
    """Raise `SchemaError`, saying how to fix it, unless the database is at the code's head."""
    current, head = await current_revision(engine), head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaError(f"database schema is empty, code needs {head}: {UPGRADE_HINT}")
    if not _known_revision(current):
        raise SchemaError(
            f"database schema is at {current}, which this code does not know (it was "
            f"migrated by a newer beautynet), code needs {head}: run the newer beautynet, "
            f"or downgrade with it (`beautynet db downgrade {head}`)"
        )
    raise SchemaError(f"database schema is at {current}, code needs {head}: {UPGRADE_HINT}")


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database up to `revision` (default: the code's head)."""
    log.info("upgrading database to %s", revision)
    async with engine.begin() as conn:
        await conn.run_sync(_run, command.upgrade, revision)


async def create_if_empty(engine: AsyncEngine) -> bool:
    """Migrate an empty database to head in one transaction; False when it was not empty.

    Processes started together on a new data folder (two trainings, say) all find the
    database empty. Each one takes the database's write lock before looking, so the first
    creates the whole schema and commits, and the others, waiting on the lock (SQLite's busy
    timeout, PostgreSQL's advisory lock), then find it there and do nothing. Without the lock a
    late process could see the schema half built, or fail on a table the first one created.
    A database that already has a schema is seen so without the lock, as on most starts.
    """
    if await current_revision(engine) is not None:
        return False
    async with engine.connect() as conn:
        await conn.exec_driver_sql(SCHEMA_LOCK[conn.dialect.name])
        if await conn.run_sync(_current_revision) is not None:
            await conn.rollback()
            return False
        log.info("empty database: creating the schema")
        await conn.run_sync(_run, command.upgrade, "head")
        await conn.commit()
        return True


# Held until the transaction ends. SQLite's IMMEDIATE transaction takes the write lock at once
# (a deferred one would take it at the first write, and fail without waiting if another
# process wrote since its first read); PostgreSQL's DDL is transactional, and the advisory
# lock (an arbitrary key, beautynet's own) orders the processes.
SCHEMA_LOCK = {
    "sqlite": "BEGIN IMMEDIATE",
    "postgresql": "SELECT pg_advisory_xact_lock(8470253)",
}


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Migrate the database down to `revision` (`base` empties it)."""
    log.info("downgrading database to %s", revision)
    async with engine.begin() as conn:
        await conn.run_sync(_run, command.downgrade, revision)


def _run(connection: Connection, action: Callable[[Config, str], None], revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection  # migrations/env.py runs on this connection
    action(config, revision)
