"""Datasets of images for training: built from folders, zips, files, URL lists or uploads."""

from .download import UrlLimits
from .manifest import Entry, Manifest, Rejection
from .sources import MemoryFile, Source, ZipLimits
from .store import (
    DEFAULT_MAX_SIDE,
    AddProgress,
    AddReport,
    DatasetNotFoundError,
    ProgressCallback,
    add_sources,
    add_sources_async,
    image_paths,
    list_datasets,
    load_manifest,
    pixel_hash,
    remove_dataset,
    show,
    shrink_short_side,
)

__all__ = [
    "DEFAULT_MAX_SIDE",
    "AddProgress",
    "AddReport",
    "DatasetNotFoundError",
    "Entry",
    "Manifest",
    "MemoryFile",
    "ProgressCallback",
    "Rejection",
    "Source",
    "UrlLimits",
    "ZipLimits",
    "add_sources",
    "add_sources_async",
    "image_paths",
    "list_datasets",
    "load_manifest",
    "pixel_hash",
    "remove_dataset",
    "show",
    "shrink_short_side",
]
