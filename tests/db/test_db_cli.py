"""`beautynet db upgrade/current/purge/downgrade` on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from beautynet.cli import build_parser
from infra.db import schema
from infra.settings import Settings


def run(settings: Settings, *argv: str) -> int:
    args = build_parser("db").parse_args(["db", *argv])
    return args.func(args, settings)


def test_db_commands(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url, request_retention_days=30)
    head = schema.head_revision()

    assert run(settings, "current") == 1
    assert "run `beautynet db upgrade`" in capsys.readouterr().err
    assert run(settings, "purge") == 1  # refuses to touch an unmigrated database
    assert run(settings, "upgrade") == 0
    assert f"schema at {head}" in capsys.readouterr().out
    assert run(settings, "current") == 0
    assert "up to date" in capsys.readouterr().out
    assert run(settings, "purge") == 0
    assert "purged 0 request(s) finished more than 30 day(s) ago" in capsys.readouterr().out
    assert run(settings, "purge", "--days", "0") == 0
    assert "kept forever" in capsys.readouterr().out
    assert run(settings, "downgrade", "base") == 0
    assert "schema at base (empty)" in capsys.readouterr().out


def test_db_is_a_command_group() -> None:
    from beautynet import cli

    assert "db" in [command.name for command in cli.COMMANDS]
