"""Database fixtures: every persistence test runs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from `BEAUTYNET_TEST_POSTGRES_URL` (a role allowed to create databases), or
else a throwaway cluster started here with initdb/pg_ctl. Without either the PostgreSQL cases
are skipped, unless `BEAUTYNET_REQUIRE_POSTGRES=1` (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy.engine import URL, make_url

from infra.db import schema
from infra.db.dispatch import asyncpg_connection
from infra.db.requests import RequestLog
from infra.db.session import Database

POSTGRES_URL_ENV = "BEAUTYNET_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "BEAUTYNET_REQUIRE_POSTGRES"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A wall clock that moves only when told (or by `step` on each reading)."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(0)) -> None:
        self.now, self.step = start, step

    def __call__(self) -> datetime:
        now, self.now = self.now, self.now + self.step
        return now


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(f"PostgreSQL is required ({REQUIRE_POSTGRES_ENV}=1) but {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason} (set {POSTGRES_URL_ENV}, or install it)")


def _postgres_bindir() -> Path | None:
    for candidate in [
        shutil.which("pg_ctl"),
        *sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")),
    ]:
        if candidate and Path(candidate).with_name("initdb").exists():
            return Path(candidate).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as_prefix(root: Path) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the `postgres` user, owning `root`."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        _unavailable("running as root and there is no `postgres` user to run the server")
    os.chown(root, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[URL]:
    """The URL of a PostgreSQL server's `postgres` database (admin role)."""
    if url := os.environ.get(POSTGRES_URL_ENV):
        yield make_url(url).set(drivername="postgresql+asyncpg")
        return
    bindir = _postgres_bindir()
    if bindir is None:
        _unavailable("initdb/pg_ctl were not found")
        return
    root = Path(tempfile.mkdtemp(prefix="beautynet-pg-"))
    try:
        yield from _throwaway_cluster(bindir, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _throwaway_cluster(bindir: Path, root: Path) -> Iterator[URL]:
    prefix, data, port = _run_as_prefix(root), root / "data", _free_port()
    initdb = [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
    _check([*prefix, *initdb, "--no-sync", "-E", "UTF8"], "initdb")
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    )
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log")]
    _check([*prefix, *pg_ctl, "-w", "-t", "60", "-o", options, "start"], "pg_ctl start")
    try:
        yield URL.create(
            "postgresql+asyncpg",
            username="postgres",
            host="127.0.0.1",
            port=port,
            database="postgres",
        )
    finally:
        subprocess.run([*prefix, *pg_ctl, "-m", "fast", "stop"], capture_output=True, check=False)


def _check(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        _unavailable(f"{what} failed: {result.stderr.strip() or result.stdout.strip()}")


async def _admin(server: URL, sql: str) -> None:
    conn = await asyncpg_connection(server)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a new, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'beautynet.sqlite3'}"
        return
    async with new_postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield url


@contextlib.asynccontextmanager
async def new_postgres_database(server: URL) -> AsyncIterator[str]:
    """The URL of a new, empty database on `server`, dropped afterwards."""
    name = f"beautynet_test_{uuid.uuid4().hex[:12]}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A database migrated to head."""
    database = Database.from_url(db_url)
    await schema.upgrade(database.engine)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    """A wall clock at a fixed time."""
    return FakeClock()


@pytest.fixture
def request_log(db: Database, clock: FakeClock) -> RequestLog:
    """A request log on a fresh database with a fake clock and timer."""
    return RequestLog(db.sessions, worker="test-worker", clock=clock)
