"""Internal failures: a short generic message for the user, the traceback in the log only."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.errors import GENERIC_FAILURE
from infra.db.models import RequestStatus
from tests.conftest import encoded
from tests.fakediscord import FakeDiscord

from .conftest import BotFactory
from .helpers import final_reply, requests_rows


class BrokenEngine:
    """An engine whose translation crashes with an internal error."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def translate(self, *args: Any) -> Any:
        raise RuntimeError("secret internal detail")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_internal_errors_are_generic_for_users_and_logged(
    fake: FakeDiscord, start_bot: BotFactory, engine, photo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, from login on: the token must not appear
    bot = await start_bot(engine_client=BrokenEngine(engine))
    alice = fake.add_user("alice")
    interaction = await fake.slash(
        alice, "beautify", files={"file": ("p.png", encoded(photo()), "image/png")}
    )
    reply = await final_reply(fake, bot, interaction)
    assert reply["content"] == f"⚠️ {GENERIC_FAILURE}"
    assert "secret internal detail" not in str([c.json for c in fake.calls])
    assert any(
        r.levelno == logging.ERROR and r.exc_info and "secret internal detail" in str(r.exc_info[1])
        for r in caplog.records
    )
    assert "IDENTIFY" in caplog.text or "logging in" in caplog.text  # login was captured
    (row,) = await requests_rows(bot)
    assert row.status == RequestStatus.FAILED and row.reason == "internal error: RuntimeError"
    assert "fake-token" not in caplog.text
