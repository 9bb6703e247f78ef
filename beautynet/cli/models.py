"""`beautynet models`: list, show, promote, roll back and delete models."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from beautynet.settings import Settings
from engine.errors import EngineError
from engine.models import ModelEntry, ModelRegistry, parse_model_ref
from engine.segment import ClustersConfig

Handler = Callable[[argparse.Namespace, ModelRegistry], int]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list and manage models")
    parser.set_defaults(func=_run(list_models))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="list the installed models").set_defaults(
        func=_run(list_models)
    )
    for name, handler, help_text in (
        ("show", show_model, "everything about one model"),
        ("promote", promote_model, "serve this version and make it the default model"),
        ("rollback", rollback_model, "undo the last promotion of a model"),
        ("delete", delete_model, "delete a model version you trained"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("model", help="NAME or NAME@VERSION")
        action.set_defaults(func=_run(handler))


def _run(handler: Handler) -> Callable[[argparse.Namespace, Settings], int]:
    """Give a handler the registry, and turn model errors into one line and exit code 2."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return handler(args, ModelRegistry(settings.models_dir))
        except (EngineError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return run


def _segmenter_label(entry: ModelEntry) -> str:
    segmenter = entry.spec.segmenter
    return f"clusters k={segmenter.k}" if isinstance(segmenter, ClustersConfig) else segmenter.kind


def list_models(args: argparse.Namespace, registry: ModelRegistry) -> int:
    """One line per model version; '*' marks the versions being served."""
    entries = registry.entries()
    if not entries:
        print("no models installed; train one with `beautynet train`")
        return 0
    default = registry.default_name(entries)
    header = ("", "NAME", "VER", "SEGMENTER", "SIZE", "NGF", "FROM", "DESCRIPTION")
    print("{:1} {:<20} {:>3}  {:<12} {:>4} {:>3}  {:<7} {}".format(*header))
    for entry in entries:
        served = registry.current_version(entry.name, entries) == entry.version
        mark = "*" if served else ""
        name = entry.name + (" (default)" if served and entry.name == default else "")
        spec = entry.spec
        print(
            f"{mark:1} {name:<20} {entry.version:>3}  {_segmenter_label(entry):<12} "
            f"{spec.size:>4} {spec.generator.ngf:>3}  "
            f"{'bundled' if entry.bundled else 'user':<7} {spec.meta.description}"
        )
    return 0


def show_model(args: argparse.Namespace, registry: ModelRegistry) -> int:
    entry = registry.get(*parse_model_ref(args.model))
    meta = entry.spec.meta
    rows = {
        "model": entry.spec.label,
        "file": str(entry.path),
        "description": meta.description,
        "segmenter": _segmenter_label(entry),
        "network": f"U-Net ngf={entry.spec.generator.ngf} depth={entry.spec.generator.depth}",
        "size": str(entry.spec.size),
        "training data": meta.training_data,
        "licence": meta.licence,
        "metrics": " ".join(f"{k}={v}" for k, v in meta.metrics.items()),
        "created": meta.created,
        "sample sheet": str(entry.sample_sheet or ""),
    }
    for key, value in rows.items():
        print(f"{key + ':':<15} {value}")
    return 0


def promote_model(args: argparse.Namespace, registry: ModelRegistry) -> int:
    entry = registry.promote(*parse_model_ref(args.model))
    print(f"promoted {entry.spec.label}; it is now the default model")
    return 0


def rollback_model(args: argparse.Namespace, registry: ModelRegistry) -> int:
    name, _ = parse_model_ref(args.model)
    entry = registry.rollback(name)
    print(f"rolled back: {name} now serves {entry.spec.label}")
    return 0


def delete_model(args: argparse.Namespace, registry: ModelRegistry) -> int:
    name, version = parse_model_ref(args.model)
    if version is None:
        raise ValueError("say which version to delete: NAME@VERSION")
    registry.delete(name, version)
    print(f"deleted {name} v{version}")
    return 0
