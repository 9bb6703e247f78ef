"""`beautynet db`: migrate the schema, show its revision, purge old request rows."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy.engine import make_url

from infra.db import schema
from infra.db.retention import purge_requests
from infra.db.session import Database
from infra.settings import Settings


def register(parser: argparse.ArgumentParser) -> None:
    """Add `db upgrade`, `db downgrade`, `db current` and `db purge`."""
    parser.description = "The database: DATABASE_URL, else a SQLite file in BEAUTYNET_DATA_DIR."
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="migrate the schema up (default: to head)")
    upgrade.add_argument("revision", nargs="?", default="head", help="target (default: head)")
    upgrade.set_defaults(func=upgrade_command)
    downgrade = actions.add_parser("downgrade", help="migrate the schema down")
    downgrade.add_argument("revision", help="target revision (`base` removes every table)")
    downgrade.set_defaults(func=downgrade_command)
    current = actions.add_parser("current", help="show the schema revision; exit 1 if outdated")
    current.set_defaults(func=current_command)
    purge = actions.add_parser("purge", help="delete finished requests past the retention")
    purge.add_argument(
        "--days", type=int, help="keep this many days (default: BEAUTYNET_REQUEST_RETENTION_DAYS)"
    )
    purge.set_defaults(func=purge_command)


def _with_database(settings: Settings, work: Callable[[Database], Awaitable[int]]) -> int:
    async def main() -> int:
        db = Database.from_url(settings.database_url_or_default)
        try:
            return await work(db)
        except schema.SchemaError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            await db.dispose()

    return asyncio.run(main())


def _where(settings: Settings) -> str:
    return make_url(settings.database_url_or_default).render_as_string(hide_password=True)


def upgrade_command(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate the database up to `args.revision`."""

    async def work(db: Database) -> int:
        await schema.upgrade(db.engine, args.revision)
        print(f"{_where(settings)}: schema at {await schema.current_revision(db.engine)}")
        return 0

    return _with_database(settings, work)


def downgrade_command(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate the database down to `args.revision`."""

    async def work(db: Database) -> int:
        await schema.downgrade(db.engine, args.revision)
        revision = await schema.current_revision(db.engine)
        print(f"{_where(settings)}: schema at {revision or 'base (empty)'}")
        return 0

    return _with_database(settings, work)


def current_command(args: argparse.Namespace, settings: Settings) -> int:
    """Print the database's revision and the code's; exit 1 if they differ."""

    async def work(db: Database) -> int:
        revision = await schema.current_revision(db.engine)
        print(f"database: {_where(settings)}")
        print(f"revision: {revision or 'none (empty)'}")
        print(f"code needs: {schema.head_revision()}")
        try:
            await schema.check_schema(db.engine)
        except schema.SchemaError as exc:
            print(f"outdated: {exc}", file=sys.stderr)
            return 1
        print("up to date")
        return 0

    return _with_database(settings, work)


def purge_command(args: argparse.Namespace, settings: Settings) -> int:
    """Delete finished request rows older than the retention period."""
    days = settings.request_retention_days if args.days is None else args.days
    if days < 0:
        print(f"--days {days}: must be >= 0", file=sys.stderr)
        return 2
    if days == 0:
        print("retention is 0 days: request rows are kept forever; nothing purged")
        return 0

    async def work(db: Database) -> int:
        await schema.check_schema(db.engine)
        now = datetime.now(UTC)
        count = await purge_requests(db.sessions, older_than_days=days, now=now)
        print(f"purged {count} request(s) finished more than {days} day(s) ago")
        return 0

    return _with_database(settings, work)
