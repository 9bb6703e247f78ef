"""`beautynet models`: list the installed models."""

from __future__ import annotations

import argparse

from beautynet.settings import Settings
from engine.models import ModelRegistry
from engine.segment import ClustersConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list the installed models")
    parser.set_defaults(func=list_models)


def list_models(args: argparse.Namespace, settings: Settings) -> int:
    """Print one line per model: name, version, segmenter, size, origin, description."""
    entries = ModelRegistry(settings.models_dir).entries()
    if not entries:
        print("no models installed; train one with `beautynet train`")
        return 0
    header = ("NAME", "VER", "SEGMENTER", "SIZE", "NGF", "FROM", "DESCRIPTION")
    print("{:<20} {:>3}  {:<14} {:>4} {:>3}  {:<7} {}".format(*header))
    for entry in entries:
        spec = entry.spec
        segmenter = spec.segmenter.kind
        if isinstance(spec.segmenter, ClustersConfig):
            segmenter += f" k={spec.segmenter.k}"
        origin = "bundled" if entry.bundled else "user"
        print(
            f"{entry.name:<20} {entry.version:>3}  {segmenter:<14} {spec.size:>4} "
            f"{spec.generator.ngf:>3}  {origin:<7} {spec.meta.description}"
        )
    return 0
