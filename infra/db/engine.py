"""Async engines: a SQLite file (WAL, busy timeout) by default, PostgreSQL through asyncpg."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def normalize_url(url: str | URL) -> URL:
    """Pick the async driver for plain `sqlite://`, `postgres://` or `postgresql://` URLs."""
    parsed = make_url(url) if isinstance(url, str) else url
    backend = "postgresql" if parsed.get_backend_name() == "postgres" else parsed.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"database_url={parsed!r}: only sqlite and postgresql are supported")
    driver = _ASYNC_DRIVERS[backend]
    if "+" in parsed.drivername and parsed.drivername != driver:
        log.warning("database driver %s replaced by %s", parsed.drivername, driver)
    return parsed.set(drivername=driver)


def create_engine(url: str | URL, *, echo: bool = False) -> AsyncEngine:
    """An async engine for `url`, with the pragmas and connection settings beautynet needs."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo)
    # Timestamps and `date()` grouping are in UTC whatever the server's default zone is.
    connect_args: dict[str, Any] = {"server_settings": {"timezone": "UTC"}}
    return create_async_engine(parsed, echo=echo, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_engine(url: URL, *, echo: bool) -> AsyncEngine:
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    )
    event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()
