"""A dataset's manifest: what was stored (hash, source, size) and what was refused, and why."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write_bytes

MANIFEST_NAME = "manifest.json"
IMAGES_DIR = "images"
FORMAT_VERSION = 1
# Keep the refusal log bounded: a dataset re-added many times must not grow without end.
MAX_REJECTED = 10_000


def now_iso() -> str:
    """The current UTC time, to the second, in ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Entry:
    """One stored image; `hash` is the SHA-256 of its decoded pixels."""

    hash: str
    file: str  # relative to the dataset folder
    source: str
    width: int
    height: int
    bytes: int
    added: str


@dataclass(frozen=True)
class Rejection:
    """An input that was refused, with a short reason."""

    source: str
    reason: str


@dataclass
class Manifest:
    """Everything known about a dataset, as stored in its `manifest.json`."""

    name: str
    created: str = field(default_factory=now_iso)
    updated: str = field(default_factory=now_iso)
    entries: list[Entry] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        """Bytes of all stored images."""
        return sum(entry.bytes for entry in self.entries)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, with a format version."""
        return {"format": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """Parse what `to_json` wrote; KeyError/TypeError on a malformed manifest."""
        return cls(
            name=data["name"],
            created=data["created"],
            updated=data["updated"],
            entries=[Entry(**entry) for entry in data["entries"]],
            rejected=[Rejection(**item) for item in data.get("rejected", [])],
        )


def read_manifest(folder: Path) -> Manifest:
    """Load `folder/manifest.json` (OSError, ValueError, KeyError or TypeError if unusable)."""
    data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{folder / MANIFEST_NAME} is not a JSON object")
    return Manifest.from_json(data)


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Write the manifest atomically, so readers never see half of it."""
    manifest.rejected = manifest.rejected[-MAX_REJECTED:]
    text = json.dumps(manifest.to_json(), indent=1, ensure_ascii=False)
    atomic_write_bytes(folder / MANIFEST_NAME, text.encode("utf-8"))
