"""Helpers shared by the CLI commands."""

from __future__ import annotations

import argparse

from engine.names import AUTO, RUNTIMES


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """--device: where the network runs (trains, or translates)."""
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        help="where to run the network (default: BEAUTYNET_DEVICE, else auto)",
    )


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """--device and --runtime: where and how the generator translates."""
    add_device_argument(parser)
    parser.add_argument(
        "--runtime",
        choices=(AUTO, *RUNTIMES),
        metavar="RUNTIME",
        help=f"how to run the network: {AUTO} (the fastest that keeps the picture here) or "
        f"one of {', '.join(RUNTIMES)} (default: BEAUTYNET_RUNTIME, else {AUTO})",
    )
