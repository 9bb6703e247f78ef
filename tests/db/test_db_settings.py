"""DATABASE_URL selects the database; URLs get their async driver; timestamps are UTC."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.dialects import sqlite

from infra.db.engine import normalize_url
from infra.db.types import UTCDateTime
from infra.settings import Settings


def test_database_url_comes_from_the_unprefixed_env_var(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url is None
    assert settings.database_url_or_default == f"sqlite+aiosqlite:///{tmp_path}/beautynet.sqlite3"
    assert settings.request_retention_days == 90
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot:pw@db/beautynet")
    assert Settings(data_dir=tmp_path).database_url_or_default == (
        "postgresql://bot:pw@db/beautynet"
    )


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite"),
        ("postgres://u@h/d", "postgresql+asyncpg"),
        ("postgresql://u@h/d", "postgresql+asyncpg"),
        ("postgresql+psycopg2://u@h/d", "postgresql+asyncpg"),
    ],
)
def test_urls_get_the_async_driver(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="only sqlite and postgresql"):
        normalize_url("mysql://u@h/d")


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        UTCDateTime().process_bind_param(datetime(2024, 1, 1), sqlite.dialect())
