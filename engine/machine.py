"""What the engine measures about a machine, kept in the data folder.

Choosing a model's runtime, exporting its graphs and timing its batch sizes take seconds at
every load, yet depend only on the machine (its CPU or GPU and the instruction-set cap),
the model file, the library versions and the threads. So they are measured once and kept
in files named by a digest of all of that: another CPU, another model version or another
torch or OpenVINO measures again, and one machine makes the same choice at every start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write_bytes
from engine.device import cpu_isa_cap
from engine.names import inside

log = logging.getLogger(__name__)

# Bumped whenever what is kept changes meaning: older files are then never read.
FORMAT = 1
LIBRARIES = ("torch", "onnx", "onnxruntime", "openvino")
GRAPHS_KEPT = 4  # exported graphs on disk (about 32 MB each for the bundled models)
GRAPH_SUFFIX = ".onnx"


@cache
def cpu_identity() -> str:
    """The CPU's model and its instruction-set flags (Linux: /proc/cpuinfo), as one line."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "CPU part") and key not in fields:
                    fields[key] = value.strip()
                if key in ("flags", "Features") and key not in fields:  # in a stable order
                    fields[key] = " ".join(sorted(value.split()))
                if not line.strip() and fields:
                    break  # the first processor describes them all
    except OSError:
        pass
    fields.setdefault("processor", platform.processor() or platform.machine())
    return "; ".join(f"{key}: {value}" for key, value in sorted(fields.items()))


def cpu_model() -> str:
    """The CPU's model name, as /proc/cpuinfo (or the platform) gives it."""
    for part in cpu_identity().split("; "):
        key, _, value = part.partition(": ")
        if key in ("model name", "processor"):
            return value
    return "unknown CPU"


@cache
def library_versions() -> dict[str, str]:
    """The versions of the libraries whose speed and output are measured ('' when absent)."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = ""
    return versions


def file_digest(path: Path) -> str:
    """A model file's SHA-256 (its version, whatever its name)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _digest(parts: dict[str, Any]) -> str:
    text = json.dumps({"format": FORMAT, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class MachineStore:
    """One model's measurements on this machine, under `folder` (the data folder's
    `machine/`). Unwritable folders are tolerated: then nothing is kept, and it says so."""

    folder: Path
    model: str  # the model file's digest

    def identity(self, device: str, **settings: Any) -> dict[str, Any]:
        """Everything a measurement depends on: machine, libraries, model, `settings`."""
        machine = {"cpu": cpu_identity(), "cpus": os.cpu_count(), "onednn_cap": cpu_isa_cap()}
        if device != "cpu":
            machine["device"] = device
        return {**machine, **library_versions(), "model": self.model, **settings}

    # ---- measurements ---------------------------------------------------------------------
    def read(self, identity: dict[str, Any]) -> dict[str, Any]:
        """What was kept for `identity` ({} when nothing was, or it cannot be read)."""
        path = self._path("measured", _digest(identity) + ".json")
        try:
            kept = json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable measurements %s: %s", path, exc)
            return {}
        return kept.get("measured", {}) if kept.get("identity") == _jsonable(identity) else {}

    def write(self, identity: dict[str, Any], measured: dict[str, Any]) -> None:
        """Keep `measured` for `identity` (with the identity in clear, for whoever looks)."""
        path = self._path("measured", _digest(identity) + ".json")
        record = {"identity": identity, "measured": measured}
        self._write(path, json.dumps(record, indent=1, sort_keys=True, default=str).encode())

    # ---- exported graphs ------------------------------------------------------------------
    def graph(self, name: str) -> bytes | None:
        """The model's exported graph `name` ('256x256': for that input size), if one was
        kept."""
        path = self._graph_path(name)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        path.touch()  # recently used: kept longest
        return data

    def keep_graph(self, name: str, data: bytes) -> None:
        """Keep an exported graph; only the `GRAPHS_KEPT` most recently used stay."""
        self._write(self._graph_path(name), data)
        graphs = sorted(
            self._path("graphs", "x").parent.glob(f"*{GRAPH_SUFFIX}"),
            key=lambda p: p.stat().st_mtime_ns,
        )
        for old in graphs[:-GRAPHS_KEPT]:
            old.unlink(missing_ok=True)

    def _graph_path(self, name: str) -> Path:
        exporter = {package: library_versions()[package] for package in ("torch", "onnx")}
        identity = {"model": self.model, "graph": name, **exporter}
        return self._path("graphs", _digest(identity) + GRAPH_SUFFIX)

    # ---- files ------------------------------------------------------------------------------
    def _path(self, kind: str, name: str) -> Path:
        return inside(self.folder, kind, name)

    def _write(self, path: Path, data: bytes) -> None:
        try:
            atomic_write_bytes(path, data)
        except OSError as exc:
            log.warning("cannot keep %s (measured again next time): %s", path.name, exc)


def _jsonable(value: Any) -> Any:
    """`value` as it reads back from JSON (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))
