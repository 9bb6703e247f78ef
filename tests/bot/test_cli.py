"""`beautynet bot` and `beautynet run` without a token; --sync parsing."""

from __future__ import annotations

import pytest

from beautynet.cli import main
from beautynet.cli.bot import sync_target
from beautynet.settings import Settings


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
