"""`beautynet models`: list, show, promote, roll back and delete models."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from beautynet.components.registry import model_registry
from engine.errors import EngineError
from engine.models import ModelRegistry, parse_model_ref
from engine.specs import GeneratorConfig, ModelSpec
from infra.db.errors import SchemaError
from infra.settings import Settings

if TYPE_CHECKING:
    from infra.db.session import Database


Handler = Callable[[argparse.Namespace, ModelRegistry], int]


def register(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(func=_run(list_models))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="list the installed models").set_defaults(
        func=_run(list_models)
    )
    for name, handler, help_text, audit_as in (
        ("show", show_model, "everything about one model", None),
        (
            "promote",
            promote_model,
            "serve this version and make it the default model",
            "model.promote",
        ),
        ("rollback", rollback_model, "undo the last promotion of a model", "model.rollback"),
        ("delete", delete_model, "delete a model version you trained", "model.delete"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("model", help="NAME or NAME@VERSION")
        action.set_defaults(func=_run(handler, audit_as))


def _run(
    handler: Handler, audit_as: str | None = None
) -> Callable[[argparse.Namespace, Settings], int]:
    """Give a handler the models (changes: audited as `audit_as`); errors: one line, exit 2.
    Nothing here loads a model, so nothing imports torch: `beautynet models` answers at once."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            if audit_as is None:
                return handler(args, model_registry(settings))
            from .records import in_database  # the database's modules: only for a change

            return in_database(settings, partial(_audited, handler, audit_as, args, settings))
        except (EngineError, ValueError, SchemaError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return run


async def _audited(
    handler: Handler, action: str, args: argparse.Namespace, settings: Settings, db: Database
) -> int:
    """Make a model change only with the database open, so that it is always audited."""
    from .records import audit_model_change

    code = handler(args, model_registry(settings))
    name, version = parse_model_ref(args.model)
    await audit_model_change(db, action, name, {} if version is None else {"version": version})
    return code


def list_models(args: argparse.Namespace, registry: ModelRegistry) -> int:
    """One line per model version; '*' marks the versions being served."""
    versions = registry.versions()
    if not versions:
        print("no models installed; train one with `beautynet train`")
        return 0
    header = ("", "NAME", "VER", "SEGMENTER", "SIZE", "NGF", "FROM", "DESCRIPTION")
    print("{:1} {:<20} {:>3}  {:<12} {:>4} {:>3}  {:<7} {}".format(*header))
    for version in versions:
        entry, spec = version.entry, version.entry.spec
        mark = "*" if version.served else ""
        name = entry.name + (" (default)" if version.default else "")
        print(
            f"{mark:1} {name:<20} {entry.version:>3}  {version.segmenter:<12} "
            f"{spec.size:>4} {spec.generator.ngf:>3}  "
            f"{'bundled' if entry.bundled else 'user':<7} {spec.meta.description}"
        )
    return 0


def show_model(args: argparse.Namespace, registry: ModelRegistry) -> int:
    """Everything about one model version."""
    entry = registry.get(*parse_model_ref(args.model))
    meta = entry.spec.meta
    rows = {
        "model": entry.spec.label,
        "file": str(entry.path),
        "description": meta.description,
        "segmenter": entry.spec.segmenter_label,
        "network": _network(entry.spec.generator),
        "size": str(entry.spec.size),
        "answers": _answers(entry.spec),
        "training data": meta.training_data,
        "licence": meta.licence,
        "metrics": " ".join(f"{k}={v}" for k, v in meta.metrics.items()),
        "created": meta.created,
        "sample sheet": str(entry.sample_sheet or ""),
    }
    for key, value in rows.items():
        print(f"{key + ':':<15} {value}")
    return 0


def _answers(spec: ModelSpec) -> str:
    """How large a photo's answer can be, and what paints beyond the generator's size."""
    enhancer = spec.enhancer
    if enhancer is None:
        return f"{spec.size} px (the generator's size; no detail network)"
    return (
        f"up to {enhancer.max_size} px: a photo's own size, the generator at {spec.size} px and "
        f"a detail network (channels={enhancer.channels} blocks={enhancer.blocks}, "
        f"segmentation {enhancer.segmentation}) painting finer texture"
    )


def _network(generator: GeneratorConfig) -> str:
    noise = ", per-pixel noise" if generator.noise else ""
    return (
        f"U-Net ngf={generator.ngf} depth={generator.depth}, {generator.upsample} upsampling{noise}"
    )


def promote_model(args: argparse.Namespace, registry: ModelRegistry) -> int:
    """Serve a version and make its name the default model."""
    entry = registry.promote(*parse_model_ref(args.model))
    print(f"promoted {entry.spec.label}; it is now the default model")
    return 0


def rollback_model(args: argparse.Namespace, registry: ModelRegistry) -> int:
    """Undo the last promotion of a model."""
    name, _ = parse_model_ref(args.model)
    entry = registry.rollback(name)
    print(f"rolled back: {name} now serves {entry.spec.label}")
    return 0


def delete_model(args: argparse.Namespace, registry: ModelRegistry) -> int:
    """Delete a user model version."""
    name, version = parse_model_ref(args.model)
    if version is None:
        raise ValueError("say which version to delete: NAME@VERSION")
    registry.delete(name, version)
    print(f"deleted {name} v{version}")
    return 0
