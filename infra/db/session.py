"""The `Database` handle (engine + session factory) and its lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from infra.settings import Settings

from . import schema
from .engine import create_engine


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
        if create_if_empty:
            await schema.create_if_empty(db.engine)
        if check:
            await schema.check_schema(db.engine)
        yield db
    finally:
        await db.dispose()
