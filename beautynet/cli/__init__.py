"""`beautynet` command line: one module per command group, each with `register(subparsers)`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from infra.settings import Settings

from . import bot, dataset, db, engine, models, run, train, translate

COMMAND_GROUPS = (run, bot, translate, models, dataset, train, db, engine)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command group registered."""
    parser = argparse.ArgumentParser(
        prog="beautynet",
        description="See the world through a network that has only seen beautiful things.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `beautynet` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = Settings()
    try:
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
