"""Helpers shared by the CLI commands."""

from __future__ import annotations

import argparse


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        help="where to run the network (default: BEAUTYNET_DEVICE, else auto)",
    )
