"""`beautynet bot` and `beautynet run` without a token; --sync parsing."""

from __future__ import annotations

import pytest

from beautynet.cli import main
from beautynet.cli.bot import sync_target
from infra.settings import Settings


@pytest.fixture
def no_token(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env from the checkout


def test_bot_without_token_explains_and_fails(no_token, capsys) -> None:
    assert main(["bot"]) == 2
    err = capsys.readouterr().err
    assert "DISCORD_TOKEN" in err and "discord.com/developers/applications" in err
    assert "Message Content Intent" in err


def test_blank_token_is_no_token(monkeypatch: pytest.MonkeyPatch, no_token) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "  ")
    assert Settings().discord_token is None


def test_token_is_never_shown(monkeypatch: pytest.MonkeyPatch, no_token) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "secret-value")
    settings = Settings()
    assert settings.discord_token is not None
    assert "secret-value" not in repr(settings) and "secret-value" not in str(settings)
    assert settings.discord_token.get_secret_value() == "secret-value"


def test_endpoint_settings_are_validated(monkeypatch: pytest.MonkeyPatch, no_token) -> None:
    monkeypatch.setenv("DISCORD_API_BASE", "ftp://nope")
    with pytest.raises(ValueError, match="http"):
        Settings()


def test_queue_and_shard_settings(monkeypatch: pytest.MonkeyPatch, no_token) -> None:
    defaults = Settings()
    assert (defaults.user_queue, defaults.user_cooldown_s) == (3, 0)
    assert (defaults.shard_count, defaults.shard_ids) == (None, None)
    monkeypatch.setenv("BEAUTYNET_SHARD_COUNT", "4")
    monkeypatch.setenv("BEAUTYNET_SHARD_IDS", " 2, 3 ")
    assert (Settings().shard_count, Settings().shard_ids) == (4, [2, 3])
    for wrong, reason in (("4", "in 0..3"), ("1,1", "distinct"), ("x", "int")):
        monkeypatch.setenv("BEAUTYNET_SHARD_IDS", wrong)
        with pytest.raises(ValueError, match=reason):
            Settings()
    monkeypatch.delenv("BEAUTYNET_SHARD_COUNT")
    monkeypatch.setenv("BEAUTYNET_SHARD_IDS", "0")
    with pytest.raises(ValueError, match="needs BEAUTYNET_SHARD_COUNT"):
        Settings()


def test_sync_target() -> None:
    settings = Settings(dev_guild_id=42)
    assert sync_target(None, settings) == (False, None)
    assert sync_target("global", settings) == (True, 42)
    assert sync_target("123", Settings()) == (True, 123)
    with pytest.raises(ValueError, match="guild id"):
        sync_target("abc", settings)


def test_bot_rejects_a_bad_sync_argument(no_token, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "x")
    assert main(["bot", "--sync", "abc"]) == 2
    assert "guild id" in capsys.readouterr().err


async def test_run_bot_logs_in_and_syncs_to_a_guild(data_dir) -> None:
    import asyncio

    from beautynet.components.bot import run_bot
    from tests.fakediscord import FakeDiscord

    fake = FakeDiscord()
    await fake.start()
    settings = Settings(
        data_dir=data_dir,
        device="cpu",
        discord_token="fake-token",
        discord_api_base=fake.api_base,
        discord_gateway_url=fake.gateway_url,
    )
    task = asyncio.create_task(run_bot(settings, sync=True, sync_guild=fake.guild_id))
    try:
        commands = await fake.wait_for(lambda: fake.commands.get(str(fake.guild_id)))
        assert {"beautify", "admin", "Beautify"} <= {c["name"] for c in commands}
        await asyncio.wait_for(fake.identified.wait(), 20)
        assert (data_dir / "beautynet.sqlite3").is_file()  # the schema was created
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await fake.close()
