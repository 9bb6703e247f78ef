"""The `Database` handle (engine + session factory) and its lifetime."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from infra.settings import Settings

from . import schema
from .engine import create_engine

log = logging.getLogger(__name__)

SCHEMA_WAIT_STEPS, SCHEMA_WAIT_STEP_S = 100, 0.1  # another process creating the schema


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """A session factory whose objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


@dataclass(frozen=True)
class Database:
    """An engine and its session factory; build one with `open_database`."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def from_url(cls, url: str) -> Database:
        """A database handle for `url` (the caller disposes of it)."""
        engine = create_engine(url)
        return cls(engine=engine, sessions=make_sessions(engine))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


async def _create_schema(engine: AsyncEngine) -> None:
    """Migrate an empty database to head, or wait for the process already doing it.

    Two processes started together on a new data folder (two trainings, say) both find the
    database empty; the second one's CREATE TABLE fails, and it waits for the first one's
    schema instead of failing.
    """
    log.info("empty database: creating the schema")
    try:
        await schema.upgrade(engine)
    except DBAPIError:
        for _ in range(SCHEMA_WAIT_STEPS):
            if await schema.current_revision(engine) is not None:
                return  # the caller's check says whether it reached head
            await asyncio.sleep(SCHEMA_WAIT_STEP_S)
        raise


@asynccontextmanager
async def open_database(
    settings: Settings, *, check: bool = True, create_if_empty: bool = False
) -> AsyncIterator[Database]:
    """Open the configured database; refuse (`SchemaError`) an outdated schema when `check`.

    `create_if_empty` migrates a brand-new, empty database to head (the embedded default);
    an existing database at an older revision is never migrated implicitly.
    """
    db = Database.from_url(settings.database_url_or_default)
    try:
        if create_if_empty and await schema.current_revision(db.engine) is None:
            await _create_schema(db.engine)
        if check:
            await schema.check_schema(db.engine)
        yield db
    finally:
        await db.dispose()
