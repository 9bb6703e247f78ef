"""The command line records its training runs and model changes, with the login that made them."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path

import pytest
from sqlalchemy import select

from beautynet.cli import main
from engine.datasets import add_sources
from infra.db import schema
from infra.db.models import AuditLog, TrainingRun, TrainingStatus
from infra.db.session import Database
from tests.conftest import encoded, photo_like


def rows(data_dir: Path, table: type) -> list:
    async def read() -> list:
        db = Database.from_url(f"sqlite:///{data_dir / 'beautynet.sqlite3'}")
        try:
            async with db.sessions() as session:
                return list((await session.scalars(select(table).order_by(table.id))).all())
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_model_changes_are_audited(data_dir: Path, make_model, capsys) -> None:
    make_model("tiny", version=2, directory=data_dir / "models", seed=3)
    assert main(["models", "promote", "tiny@2"]) == 0
    assert main(["models", "rollback", "tiny"]) == 0
    assert main(["models", "delete", "tiny@2"]) == 0
    assert main(["models", "rollback", "tiny"]) == 2  # refused, so not audited
    assert "no promotion to roll back" in capsys.readouterr().err
    entries = rows(data_dir, AuditLog)
    assert [(e.action, e.target, e.details) for e in entries] == [
        ("model.promote", "tiny", {"version": 2}),
        ("model.rollback", "tiny", {}),
        ("model.delete", "tiny", {"version": 2}),
    ]
    assert {(e.actor_id, e.cli_user) for e in entries} == {(None, getpass.getuser())}


def test_no_model_change_without_a_current_schema(data_dir: Path, make_model, capsys) -> None:
    make_model("tiny", version=2, directory=data_dir / "models", seed=3)
    db = Database.from_url(f"sqlite:///{data_dir / 'beautynet.sqlite3'}")
    asyncio.run(schema.upgrade(db.engine, "0002"))
    asyncio.run(db.dispose())
    assert main(["models", "promote", "tiny@2"]) == 2
    assert "beautynet db upgrade" in capsys.readouterr().err
    assert main(["models", "list"]) == 0  # reading needs no database
    assert "* tiny" in capsys.readouterr().out
    assert main(["models", "show", "tiny"]) == 0
    assert "model:          tiny v1" in capsys.readouterr().out  # still serving v1


def test_a_training_run_is_recorded(data_dir: Path, tmp_path: Path, capsys) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        (photos / f"{i}.png").write_bytes(encoded(photo_like(96, 80, seed=i)))
    add_sources(data_dir / "datasets", "garden", [photos])
    command = ["train", "--dataset", "garden", "--name", "blooms", "--segmenter", "edges"]
    command.append("--noise")
    tiny = ["--ngf", "4", "--ndf", "4", "--size", "64", "--epochs", "1", "--epoch-samples", "2"]
    assert main([*command, *tiny]) == 0
    [run] = rows(data_dir, TrainingRun)
    assert (run.model_name, run.dataset, run.segmenter, run.status, run.model_version) == (
        "blooms",
        "garden",
        "edges",
        TrainingStatus.FINISHED,
        1,
    )
    assert (run.cli_user, run.user_id, run.guild_id) == (getpass.getuser(), None, None)
    assert set(run.metrics) == {"l1", "psnr", "ssim"} and run.parameters["ngf"] == 4
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert main(["models", "show", "blooms"]) == 0
    assert "nearest upsampling, per-pixel noise" in capsys.readouterr().out


def test_a_refused_training_leaves_no_record(data_dir: Path, capsys) -> None:
    assert main(["train", "--dataset", "nope", "--name", "x"]) == 2
    assert "nope" in capsys.readouterr().err
    assert not (data_dir / "beautynet.sqlite3").exists()


@pytest.fixture(autouse=True)
def _no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
