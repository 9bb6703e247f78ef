"""`beautynet` command line: one module per command, each with `register(parser)`.

A command's module (and the engine, torch or discord.py behind it) is imported only when that
command runs: `beautynet --help` lists the commands from the table below and imports nothing
heavy.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NamedTuple


class Command(NamedTuple):
    name: str
    help: str


COMMANDS = (
    Command("run", "run the main job on embedded defaults"),
    Command("bot", "run the Discord bot (needs DISCORD_TOKEN)"),
    Command("translate", "translate images through a model, side by side with the originals"),
    Command("models", "list and manage models"),
    Command("dataset", "build and inspect training datasets"),
    Command("train", "train a model on a dataset (pix2pix)"),
    Command("train-detail", "train a model's detail network: answers up to 1024 px"),
    Command("db", "database schema and maintenance"),
    Command("engine", "run the engine as an HTTP service"),
)


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command named on the line: the first word that is not an option (-v, -h)."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; only `command`'s own arguments are registered (its module loaded)."""
    parser = argparse.ArgumentParser(
        prog="beautynet",
        description="See the world through a network that has only seen beautiful things.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS:
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = name.replace("-", "_")
            importlib.import_module(f"{__name__}.{module}").register(subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `beautynet` console script; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(chosen_command(argv)).parse_args(argv)
    # Services (engine serve, run, bot) log what they do at INFO; one-shot commands warn only.
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else getattr(args, "log_level", logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from infra.settings import Settings  # pydantic: loaded once a command runs

    try:
        settings = Settings()
        if getattr(args, "runtime", None):  # --runtime: this command's BEAUTYNET_RUNTIME
            settings = settings.model_copy(update={"runtime": args.runtime})
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
