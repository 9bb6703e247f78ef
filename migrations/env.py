"""Alembic environment (async): beautynet's models, URL from Settings or a shared connection."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection
from sqlalchemy.types import TypeDecorator

from infra.db import models  # every table module, so that autogenerate sees them all
from infra.db.engine import create_engine, normalize_url
from infra.db.schema import ours
from infra.settings import Settings

config = context.config
target_metadata = models.Base.metadata
# Called from beautynet code, a connection is passed in and the caller's logging is kept.
shared_connection: Connection | None = config.attributes.get("connection")

if shared_connection is None and config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    """The URL from beautynet's settings (DATABASE_URL, else the SQLite file)."""
    return Settings().database_url_or_default


def render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write beautynet's portable column types as the plain SQLAlchemy types they wrap."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def configure(connection: Connection) -> None:
    """Run the migrations on a synchronous connection."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
        include_object=ours,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    """Open an async engine from the settings and migrate through it."""
    engine = create_engine(database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(configure)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (`alembic upgrade head --sql`)."""
    url = normalize_url(database_url())
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.get_backend_name() == "sqlite",
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
elif shared_connection is not None:
    configure(shared_connection)
else:
    asyncio.run(run_async_migrations())
