"""Datasets on disk: `<datasets_dir>/<name>/images/<sha256>.png` plus `manifest.json`.

`add_sources` is synchronous and CPU-bound (decoding, resizing, PNG encoding); async callers
such as the bot use `add_sources_async`, which runs it in a worker thread. Progress callbacks
are then called from that thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from engine.atomic import atomic_write_bytes
from engine.errors import EngineError, InputError
from engine.imaging import ImageLimits, decode_image, encode_image
from engine.names import check_name, inside

from .download import UrlLimits, fetch_urls
from .manifest import (
    IMAGES_DIR,
    MANIFEST_NAME,
    Entry,
    Manifest,
    Rejection,
    now_iso,
    read_manifest,
    write_manifest,
)
from .sources import Candidate, Source, ZipLimits, expand_source

log = logging.getLogger(__name__)

# Short side kept of each photo. Training's hold-out split follows the stored files (named by
# their hash), so another size holds out other photos than the bundled models held out.
DEFAULT_MAX_SIDE = 512
DEFAULT_URL_LIMITS = UrlLimits()
DEFAULT_ZIP_LIMITS = ZipLimits()


class DatasetNotFoundError(EngineError):
    """No dataset of that name exists."""


@dataclass(frozen=True)
class AddProgress:
    """Counts so far, and the source just handled."""

    done: int
    added: int
    duplicates: int
    rejected: int
    source: str


ProgressCallback = Callable[[AddProgress], None]


@dataclass
class AddReport:
    """What one `add_sources` call did."""

    name: str
    added: list[Entry] = field(default_factory=list)
    duplicates: list[Rejection] = field(default_factory=list)  # reason: the existing hash
    rejected: list[Rejection] = field(default_factory=list)
    total_images: int = 0


def dataset_dir(datasets_dir: Path, name: str) -> Path:
    """The folder of dataset `name` (the name checked, the folder under `datasets_dir`)."""
    return inside(datasets_dir, check_name(name, "dataset"))


def add_sources(
    datasets_dir: Path,
    name: str,
    sources: Iterable[Source],
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    limits: ImageLimits = ImageLimits(),
    url_limits: UrlLimits = DEFAULT_URL_LIMITS,
    zip_limits: ZipLimits = DEFAULT_ZIP_LIMITS,
    progress: ProgressCallback | None = None,
) -> AddReport:
    """Decode, shrink, deduplicate and store every image of `sources` in dataset `name`.

    Blocking; runs its own event loop for URLs, so call it from a thread in async code.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    folder = dataset_dir(datasets_dir, name)
    created = not folder.exists()
    (folder / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        manifest = _load_or_new(folder, name)
        ingest = _Ingest(folder, manifest, max_side, limits, progress)
        try:
            urls: list[str] = []
            for source in sources:
                expanded = expand_source(source, limits.max_bytes, zip_limits)
                urls += expanded.urls
                ingest.run(expanded.candidates)
            if urls:
                asyncio.run(_ingest_urls(ingest, urls, url_limits))
        finally:
            _finish(folder, manifest, ingest.report, created)
    return ingest.report


async def add_sources_async(
    datasets_dir: Path, name: str, sources: Sequence[Source], **options: Any
) -> AddReport:
    """`add_sources` in a worker thread, for callers on an event loop (the bot)."""
    return await asyncio.to_thread(add_sources, datasets_dir, name, sources, **options)


def load_manifest(datasets_dir: Path, name: str) -> Manifest:
    """The manifest of dataset `name`; DatasetNotFoundError if there is none."""
    folder = dataset_dir(datasets_dir, name)
    if not (folder / MANIFEST_NAME).is_file():
        raise DatasetNotFoundError(f"no dataset named {name!r}")
    return read_manifest(folder)


show = load_manifest


def list_datasets(datasets_dir: Path) -> list[Manifest]:
    """Manifests of every dataset, sorted by name; unreadable ones are logged and skipped."""
    if not datasets_dir.is_dir():
        return []
    manifests = []
    for folder in sorted(p for p in datasets_dir.iterdir() if (p / MANIFEST_NAME).is_file()):
        try:
            manifests.append(read_manifest(folder))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("skipping %s: unreadable manifest (%s)", folder, exc)
    return manifests


def image_paths(datasets_dir: Path, name: str) -> list[Path]:
    """Paths of the stored images of dataset `name`, in manifest order (for training)."""
    folder = dataset_dir(datasets_dir, name)
    return [folder / entry.file for entry in load_manifest(datasets_dir, name).entries]


def remove_dataset(datasets_dir: Path, name: str) -> None:
    """Delete dataset `name` and its images; DatasetNotFoundError if there is none."""
    folder = dataset_dir(datasets_dir, name)
    if not (folder / MANIFEST_NAME).is_file():
        raise DatasetNotFoundError(f"no dataset named {name!r}")
    # Rename first, so the dataset disappears at once even if deleting the files takes time.
    doomed = folder.with_name(f".{name}.removing")
    shutil.rmtree(doomed, ignore_errors=True)  # left over from a removal that crashed
    folder.rename(doomed)
    shutil.rmtree(doomed)
    log.info("removed dataset %s", name)


class _Ingest:
    """Turns candidates into stored images and manifest entries; one per add_sources call."""

    def __init__(
        self,
        folder: Path,
        manifest: Manifest,
        max_side: int,
        limits: ImageLimits,
        progress: ProgressCallback | None,
    ) -> None:
        self.folder, self.manifest, self.max_side, self.limits = folder, manifest, max_side, limits
        self.progress = progress
        self.known = {entry.hash for entry in manifest.entries}
        self.report = AddReport(manifest.name)

    def run(self, candidates: Iterator[Candidate]) -> None:
        for candidate in candidates:
            self.one(candidate)

    def one(self, candidate: Candidate) -> None:
        try:
            if candidate.error is not None or candidate.data is None:
                raise InputError(candidate.error or "no data")
            self._store(candidate.source, candidate.data)
        except InputError as exc:
            log.debug("rejected %s: %s", candidate.source, exc)
            self.report.rejected.append(Rejection(candidate.source, str(exc)))
        if self.progress is not None:
            report = self.report
            done = len(report.added) + len(report.duplicates) + len(report.rejected)
            self.progress(
                AddProgress(
                    done,
                    len(report.added),
                    len(report.duplicates),
                    len(report.rejected),
                    candidate.source,
                )
            )

    def _store(self, source: str, data: bytes) -> None:
        image = shrink_short_side(decode_image(data, self.limits), self.max_side)
        digest = pixel_hash(image)
        if digest in self.known:
            self.report.duplicates.append(Rejection(source, digest))
            return
        png = encode_image(image, "png")
        relative = f"{IMAGES_DIR}/{digest}.png"
        atomic_write_bytes(self.folder / relative, png)
        entry = Entry(digest, relative, source, image.width, image.height, len(png), now_iso())
        self.known.add(digest)
        self.manifest.entries.append(entry)
        self.report.added.append(entry)


def shrink_short_side(image: Image.Image, max_side: int) -> Image.Image:
    """Downscale (never upscale) so the short side is at most `max_side`, keeping the aspect."""
    short = min(image.size)
    if short <= max_side:
        return image
    scale = max_side / short
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def pixel_hash(image: Image.Image) -> str:
    """SHA-256 of the size and RGB pixels: the same picture gives the same hash in any format."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    digest = hashlib.sha256(f"{rgb.width}x{rgb.height}:".encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()


async def _ingest_urls(ingest: _Ingest, urls: list[str], limits: UrlLimits) -> None:
    # Decoding runs in a thread so this loop keeps downloads (and their timeouts) moving.
    async for candidate in fetch_urls(urls, limits):
        await asyncio.to_thread(ingest.one, candidate)


def _load_or_new(folder: Path, name: str) -> Manifest:
    if not (folder / MANIFEST_NAME).is_file():
        return Manifest(name)
    try:
        return read_manifest(folder)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineError(f"dataset {name!r} has an unreadable manifest ({exc})") from exc


def _finish(folder: Path, manifest: Manifest, report: AddReport, created: bool) -> None:
    """Record what was done, even after an interruption; drop a new dataset left empty."""
    report.total_images = len(manifest.entries)
    if created and not manifest.entries:
        shutil.rmtree(folder, ignore_errors=True)
        return
    manifest.updated = now_iso()
    manifest.rejected += report.rejected
    write_manifest(folder, manifest)
    log.info(
        "dataset %s: %d added, %d duplicates, %d rejected",
        manifest.name,
        len(report.added),
        len(report.duplicates),
        len(report.rejected),
    )


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Exclusive lock on the dataset, so the bot and the CLI never interleave writes."""
    with (folder / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
