"""Atomic file writes: a crash leaves the old file or the new one, never half of one."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Call `write` on a temp file next to `path`, fsync it, then rename it over `path`.

    The file gets the mode a plain `open` would give it: the old file's when it replaces
    one, else 0666 less the umask (a temp file is created 0600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = file_mode(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_mode(path: Path) -> int:
    """The permissions a new file at `path` gets: an existing file's own, else the umask's."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process's umask, read without changing it where Linux tells it (/proc), since
    setting it to read it back would briefly affect files other threads create."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_torch_save(obj: object, path: Path) -> None:
    """torch.save, atomically."""
    import torch  # here, so that the modules that write other files need no torch

    atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path`, atomically."""
    atomic_write(path, lambda handle: handle.write(data))
