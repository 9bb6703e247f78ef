"""`beautynet bot`: run the Discord bot (DISCORD_TOKEN), optionally syncing slash commands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import discord

from beautynet.components.bot import MissingTokenError, run_bot
from infra.db.errors import SchemaError
from infra.settings import Settings

from .common import add_network_arguments

GLOBAL = "global"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sync",
        nargs="?",
        const=GLOBAL,
        metavar="GUILD_ID",
        help="publish slash commands at start-up: to one guild (instant), or globally "
        "(default, BEAUTYNET_DEV_GUILD_ID when set; can take up to an hour)",
    )
    add_network_arguments(parser)
    parser.set_defaults(func=bot_command, log_level=logging.INFO)


def sync_target(value: str | None, settings: Settings) -> tuple[bool, int | None]:
    """(sync?, guild id or None for global) from the --sync argument."""
    if value is None:
        return False, None
    if value == GLOBAL:
        return True, settings.dev_guild_id
    if not value.isdigit():
        raise ValueError(f"--sync takes a guild id (a number), got {value!r}")
    return True, int(value)


def bot_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run until interrupted; without a token, explain how to get one."""
    try:
        sync, guild = sync_target(args.sync, settings)
        asyncio.run(run_bot(settings, sync=sync, sync_guild=guild, device=args.device))
    except MissingTokenError as exc:
        print(exc, file=sys.stderr)
        return 2
    except discord.LoginFailure:
        print(
            "error: Discord refused DISCORD_TOKEN; reset it in the developer portal",
            file=sys.stderr,
        )
        return 1
    except discord.PrivilegedIntentsRequired:
        print(
            "error: enable the Message Content Intent (Bot page of the developer portal)",
            file=sys.stderr,
        )
        return 1
    except (ValueError, SchemaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
