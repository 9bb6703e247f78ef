"""Turn dataset sources (folders, zips, image files, URL lists, in-memory files) into candidates.

Nothing here trusts a name or an extension: a file is classified by its content, and every
candidate is later decoded by `engine.imaging.decode_image`.
"""

from __future__ import annotations

import io
import logging
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.errors import InputError

log = logging.getLogger(__name__)

MAX_URL_LIST_BYTES = 1024 * 1024
_URL_PREFIXES = ("http://", "https://")


@dataclass(frozen=True)
class MemoryFile:
    """An in-memory source, such as a Discord attachment: a display name and its bytes."""

    name: str
    data: bytes


Source = str | Path | MemoryFile


@dataclass(frozen=True)
class ZipLimits:
    """Caps on a zip archive, checked on its directory before anything is decompressed."""

    max_members: int = 10_000
    max_total_bytes: int = 2 * 1024**3


@dataclass(frozen=True)
class Candidate:
    """A would-be image (`data`), or a refusal (`error`), labelled with where it came from."""

    source: str
    data: bytes | None = None
    error: str | None = None


@dataclass
class Expanded:
    """Local candidates are produced lazily; URLs are collected to be downloaded together."""

    candidates: Iterator[Candidate]
    urls: list[str]


def is_url(text: str) -> bool:
    """Whether `text` names an http(s) URL."""
    return text.lower().startswith(_URL_PREFIXES)


def expand_source(source: Source, max_bytes: int, zip_limits: ZipLimits) -> Expanded:
    """Classify one source and return its candidates and URLs."""
    if isinstance(source, MemoryFile):
        return _expand_bytes(source.name, source.data, max_bytes, zip_limits)
    if isinstance(source, str) and is_url(source):
        return Expanded(iter(()), [source])
    path = Path(source)
    if path.is_dir():
        return Expanded(_walk_folder(path, max_bytes), [])
    if not path.is_file():
        return Expanded(iter([Candidate(str(path), error="no such file or folder")]), [])
    if zipfile.is_zipfile(path):
        return Expanded(_zip_members(str(path), path, max_bytes, zip_limits), [])
    try:
        data = _read_capped(path, max(max_bytes, MAX_URL_LIST_BYTES))
    except InputError as exc:
        return Expanded(iter([Candidate(str(path), error=str(exc))]), [])
    return _expand_bytes(str(path), data, max_bytes, zip_limits)


def _expand_bytes(label: str, data: bytes, max_bytes: int, zip_limits: ZipLimits) -> Expanded:
    if zipfile.is_zipfile(io.BytesIO(data)):
        return Expanded(_zip_members(label, io.BytesIO(data), max_bytes, zip_limits), [])
    urls = parse_url_list(data)
    if urls is not None:
        return Expanded(iter(()), urls)
    return Expanded(iter([Candidate(label, data=data)]), [])


def parse_url_list(data: bytes) -> list[str] | None:
    """The URLs of a text file whose first entry is an http(s) URL; None for anything else."""
    if len(data) > MAX_URL_LIST_BYTES:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if not lines or not is_url(lines[0]):
        return None
    return list(dict.fromkeys(lines))  # drop repeats, keep order; non-URLs rejected later


def _hidden(name: str) -> bool:
    # Finder/Explorer litter (.DS_Store, __MACOSX, Thumbs.db) is skipped, not "rejected".
    return name.startswith(".") or name == "__MACOSX" or name.lower() == "thumbs.db"


def _walk_folder(root: Path, max_bytes: int) -> Iterator[Candidate]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(_hidden(part) for part in relative.parts) or path.is_symlink():
            continue
        if path.is_file():
            try:
                yield Candidate(str(path), data=_read_capped(path, max_bytes))
            except InputError as exc:
                yield Candidate(str(path), error=str(exc))


def _read_capped(path: Path, max_bytes: int) -> bytes:
    """Read a file, refusing it by its size before reading."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"file too large ({size / 2**20:.1f} MiB)")
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or type(exc).__name__})") from exc
    if len(data) > max_bytes:
        raise InputError("file too large")
    return data


def _zip_members(
    label: str, file: Path | BinaryIO, max_bytes: int, limits: ZipLimits
) -> Iterator[Candidate]:
    """Read a zip's image members into memory; the archive is never extracted to disk."""
    try:
        with zipfile.ZipFile(file) as archive:
            members = [m for m in archive.infolist() if _is_regular(m)]
            if len(members) > limits.max_members:
                yield Candidate(
                    label,
                    error=f"zip has too many files ({len(members)}, limit {limits.max_members})",
                )
                return
            budget = limits.max_total_bytes
            for member in members:
                candidate, used = _read_member(
                    archive, member, f"{label}:{member.filename}", max_bytes, budget
                )
                budget -= used
                yield candidate
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        yield Candidate(label, error=f"zip is corrupt ({exc})")


def _is_regular(member: zipfile.ZipInfo) -> bool:
    """Files only: no directories, no symlinks, no hidden litter."""
    if member.is_dir() or any(_hidden(part) for part in member.filename.split("/")):
        return False
    unix_mode = member.external_attr >> 16
    return not (unix_mode and stat.S_ISLNK(unix_mode))


def _read_member(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, label: str, max_bytes: int, budget: int
) -> tuple[Candidate, int]:
    """One member as a candidate, and the uncompressed bytes it used from the budget."""
    if member.flag_bits & 0x1:
        return Candidate(label, error="encrypted zip member"), 0
    # zipfile stops at the declared size, so checking it bounds what decompression produces.
    if member.file_size > max_bytes:
        return Candidate(label, error=f"file too large ({member.file_size / 2**20:.1f} MiB)"), 0
    if member.file_size > budget:
        return Candidate(label, error="zip holds more data than allowed"), 0
    try:
        with archive.open(member) as f:
            data = f.read(max_bytes + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        return Candidate(label, error=f"cannot read zip member ({exc})"), 0
    return Candidate(label, data=data), len(data)
