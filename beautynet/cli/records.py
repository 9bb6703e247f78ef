"""What the command line writes to the database, and who it says did it (the login)."""

from __future__ import annotations

import asyncio
import getpass
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from engine.specs import segmenter_label
from infra.db.models import TrainingStatus
from infra.db.preferences import audit
from infra.db.requests import utcnow
from infra.db.session import Database, open_database
from infra.db.training import NewRun, finish_run, start_run
from infra.settings import Settings

if TYPE_CHECKING:  # the training's types only: `beautynet models` imports this without torch
    from engine.training import TrainConfig, TrainResult

T = TypeVar("T")


def cli_user() -> str:
    """The login running this command."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name for this uid (some containers)
        return f"uid {os.getuid()}"


def in_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` on the configured database (its schema made when empty), then close it.

    An outdated schema raises `SchemaError`, which says how to upgrade.
    """

    async def run() -> T:
        async with open_database(settings, create_if_empty=True) as db:
            return await work(db)

    return asyncio.run(run())


async def audit_model_change(
    db: Database, action: str, name: str, details: dict[str, Any] | None = None
) -> None:
    """An audit-log row for a model promotion, rollback or deletion made here."""
    async with db.sessions.begin() as session:
        audit(
            session, None, action, now=utcnow(), target=name, details=details, cli_user=cli_user()
        )


def training_started(settings: Settings, dataset: str, config: TrainConfig) -> int:
    """Record a run started here; returns its id."""
    asked = {"epochs": config.epochs, "time_budget_s": config.time_budget_s}
    asked["ngf"] = config.generator.ngf
    label = segmenter_label(config.segmenter)
    run = NewRun(config.model_name, dataset, label, asked, cli_user=cli_user())
    return in_database(settings, lambda db: start_run(db.sessions, run, now=utcnow()))


def training_ended(
    settings: Settings, run_id: int | None, result: TrainResult | None, reason: str | None = None
) -> None:
    """Record how run `run_id` (None: not recorded here) ended: its result, or why it failed."""
    if run_id is None:
        return
    if result is None:
        status, version, metrics, reason = TrainingStatus.FAILED, None, None, reason or "failed"
    else:
        status = TrainingStatus(result.outcome.status)
        version = result.model.version if result.model else None
        metrics, reason = dict(result.outcome.metrics), None
    recorded = run_id

    async def finish(db: Database) -> None:
        await finish_run(
            db.sessions,
            recorded,
            status,
            now=utcnow(),
            model_version=version,
            metrics=metrics,
            reason=reason,
        )

    in_database(settings, finish)
