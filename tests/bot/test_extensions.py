"""Every extension loads, has a setup, and no two commands share a name."""

from __future__ import annotations

import importlib
from collections import Counter

import discord
from discord import app_commands

from bot.bot import BeautyBot, find_extensions


def test_every_extension_has_a_setup() -> None:
    names = find_extensions()
    assert "bot.exts.core.errors" in names and "bot.exts.images.beautify" in names
    for name in names:
        assert callable(getattr(importlib.import_module(name), "setup", None)), name


def qualified_names(commands: list) -> list[str]:
    found = []
    for command in commands:
        found.append(command.qualified_name)
        if isinstance(command, app_commands.Group):
            found += qualified_names(command.commands)
    return found


async def test_command_names_do_not_clash(bot: BeautyBot) -> None:
    names = qualified_names(bot.tree.get_commands())
    clashes = [name for name, count in Counter(names).items() if count > 1]
    assert clashes == []
    assert {"beautify", "models", "model use", "admin watch", "admin model promote"} <= set(names)
    assert "Beautify" in {
        c.name for c in bot.tree.get_commands(type=discord.AppCommandType.message)
    }
