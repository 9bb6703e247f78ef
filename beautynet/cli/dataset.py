"""`beautynet dataset add|list|show|remove`: build and inspect training datasets."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from engine.datasets import (
    DEFAULT_MAX_SIDE,
    AddProgress,
    UrlLimits,
    add_sources,
    list_datasets,
    load_manifest,
    remove_dataset,
)
from engine.errors import EngineError
from engine.imaging import ImageLimits
from infra.settings import Settings


def register(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")

    add = commands.add_parser("add", help="add images from folders, zips, files or URL lists")
    add.add_argument("name", metavar="NAME", help="dataset name (created if missing)")
    add.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="folder, zip, image file, text file of http(s) URLs, or a URL",
    )
    add.add_argument(
        "--max-side",
        type=int,
        default=DEFAULT_MAX_SIDE,
        help=f"shrink images so their short side is at most this (default {DEFAULT_MAX_SIDE})",
    )
    add.add_argument("--max-urls", type=int, default=UrlLimits.max_urls, help="URL count cap")
    add.add_argument(
        "--timeout", type=float, default=UrlLimits.timeout_s, help="seconds per download"
    )
    add.add_argument(
        "--allow-private-urls",
        action="store_true",
        help="also download from localhost and private networks",
    )
    add.set_defaults(func=add_command)

    list_ = commands.add_parser("list", help="list datasets")
    list_.set_defaults(func=list_command)

    show = commands.add_parser("show", help="show a dataset's images and refusals")
    show.add_argument("name", metavar="NAME")
    show.set_defaults(func=show_command)

    remove = commands.add_parser("remove", help="delete a dataset and its images")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(func=remove_command)


def add_command(args: argparse.Namespace, settings: Settings) -> int:
    """Add sources; print each refusal on one line. Exit 1 when no image was added or known."""
    limits = ImageLimits(settings.max_image_bytes, settings.max_image_pixels)
    try:
        url_limits = UrlLimits(
            max_urls=args.max_urls,
            max_bytes=settings.max_image_bytes,
            timeout_s=args.timeout,
            allow_private=args.allow_private_urls,
        )
        with tqdm(unit="img", file=sys.stderr, disable=None) as bar:

            def progress(event: AddProgress) -> None:
                bar.update(1)
                bar.set_postfix(added=event.added, rejected=event.rejected, refresh=False)

            report = add_sources(
                settings.datasets_dir,
                args.name,
                args.sources,
                max_side=args.max_side,
                limits=limits,
                url_limits=url_limits,
                progress=progress,
            )
    except (EngineError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for item in report.rejected:
        print(f"{item.source}: {item.reason}", file=sys.stderr)
    print(
        f"{report.name}: added {len(report.added)}, {len(report.duplicates)} already present, "
        f"{len(report.rejected)} rejected; {report.total_images} images in total"
    )
    return 0 if report.added or report.duplicates else 1


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    """One line per dataset: name, image count, size, last update."""
    manifests = list_datasets(settings.datasets_dir)
    if not manifests:
        print("no datasets; create one with `beautynet dataset add NAME SOURCE...`")
        return 0
    print(f"{'NAME':<24} {'IMAGES':>6} {'SIZE':>9}  UPDATED")
    for manifest in manifests:
        size = f"{manifest.total_bytes / 2**20:.1f} MiB"
        print(f"{manifest.name:<24} {len(manifest.entries):>6} {size:>9}  {manifest.updated}")
    return 0


def show_command(args: argparse.Namespace, settings: Settings) -> int:
    """A dataset's summary, its images (hash, size, source) and its refusals."""
    try:
        manifest = load_manifest(settings.datasets_dir, args.name)
    except (EngineError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"dataset {manifest.name}: {len(manifest.entries)} images, "
        f"{manifest.total_bytes / 2**20:.1f} MiB, created {manifest.created}, "
        f"updated {manifest.updated}"
    )
    for entry in manifest.entries:
        print(f"  {entry.hash[:12]}  {entry.width:>5}x{entry.height:<5}  {entry.source}")
    if manifest.rejected:
        print(f"rejected ({len(manifest.rejected)}):")
        for item in manifest.rejected:
            print(f"  {item.source}: {item.reason}")
    return 0


def remove_command(args: argparse.Namespace, settings: Settings) -> int:
    """Delete a dataset."""
    try:
        count = len(load_manifest(settings.datasets_dir, args.name).entries)
        remove_dataset(settings.datasets_dir, args.name)
    except (EngineError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"removed dataset {args.name} ({count} images)")
    return 0
