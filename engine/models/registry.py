"""Model registry: the bundled models plus those in the user's models directory.

A name has versions. A new version (a finished training run) is only registered; it is
served for that name once promoted, and promotion also makes the name the default model.
Until a name has a promotion, its bundled version (or else its first) is served, so a
new or failed run never replaces a working model. State lives in `registry.json`.

The catalogue (every file's spec) is read once, and again only when the model files change.
A lookup costs two `stat` calls (the folders' modification times, which any rename, write
by rename or removal changes); only when a folder did change is its listing of model files
(names, sizes, times) compared, and only a changed listing is read again.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.atomic import atomic_write_bytes
from engine.errors import ModelError
from engine.names import inside
from engine.specs import ModelSpec

from .header import MODEL_SUFFIX, read_spec

if TYPE_CHECKING:
    from engine.nets import DetailEnhancer, UnetGenerator

log = logging.getLogger(__name__)

BUNDLED_MODELS_DIR = Path(__file__).resolve().parent.parent / "bundled" / "models"
DEFAULT_MODEL_NAME = "nature"
STATE_FILE = "registry.json"


@dataclass(frozen=True)
class ModelEntry:
    """A model file found on disk and the spec read from it."""

    spec: ModelSpec
    path: Path
    bundled: bool

    @property
    def name(self) -> str:
        return self.spec.meta.name

    @property
    def version(self) -> int:
        return self.spec.meta.version

    @property
    def sample_sheet(self) -> Path | None:
        """The validation sample sheet saved next to the weights, if any."""
        sheet = self.path.with_suffix(".png")
        return sheet if sheet.is_file() else None


@dataclass(frozen=True)
class ModelVersion:
    """An installed model version, and whether its name serves it and it is the default."""

    entry: ModelEntry
    served: bool  # the version a plain name resolves to
    default: bool  # the default model's served version

    @property
    def segmenter(self) -> str:
        """'clusters k=7' or 'edges'."""
        return self.entry.spec.segmenter_label


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_mtime_ns, info.st_size


def _listing(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, modification time and size of every model file in `directory`."""
    files = [(p.name, *_stamp(p)) for p in directory.glob(f"*{MODEL_SUFFIX}")]
    return tuple(sorted(files))


class ModelRegistry:
    """Finds model files, resolves names to versions, registers and promotes versions."""

    def __init__(self, user_dir: Path | None, bundled_dir: Path = BUNDLED_MODELS_DIR) -> None:
        self.user_dir = user_dir
        self.bundled_dir = bundled_dir
        self._folders: Any = None  # the folders' stamps when the listing was last taken
        self._catalogue: tuple[Any, list[ModelEntry]] = (None, [])  # (listing, entries)
        self._state_cache: tuple[Any, dict[str, Any]] = (None, {})

    # ---- state ---------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        path = self.user_dir / STATE_FILE if self.user_dir else None
        if path is None or not path.is_file():
            return {"default": None, "promoted": {}}
        stamp = _stamp(path)
        if self._state_cache[0] != stamp:
            self._state_cache = (stamp, json.loads(path.read_text()))
        return json.loads(json.dumps(self._state_cache[1]))  # callers may change their copy

    def _save_state(self, state: dict[str, Any]) -> None:
        directory = self._require_user_dir()
        text = json.dumps(state, indent=2, sort_keys=True).encode()
        atomic_write_bytes(directory / STATE_FILE, text)

    def _require_user_dir(self) -> Path:
        if self.user_dir is None:
            raise ModelError("no models directory is configured")
        return self.user_dir

    # ---- lookup --------------------------------------------------------------------
    def _directories(self) -> list[tuple[Path, bool]]:
        pairs = ((self.bundled_dir, True), (self.user_dir, False))
        return [(d, bundled) for d, bundled in pairs if d is not None and d.is_dir()]

    def entries(self) -> list[ModelEntry]:
        """Every readable model, sorted by name then version; unreadable files are logged."""
        directories = self._directories()
        folders = tuple((str(d), _stamp(d)) for d, _ in directories)
        if folders != self._folders:
            listing = tuple(_listing(d) for d, _ in directories)
            if listing != self._catalogue[0]:
                self._catalogue = (listing, self._read_entries())
            self._folders = folders
        return list(self._catalogue[1])

    def _read_entries(self) -> list[ModelEntry]:
        found: list[ModelEntry] = []
        for directory, bundled in self._directories():
            for path in sorted(directory.glob(f"*{MODEL_SUFFIX}")):
                try:
                    found.append(ModelEntry(read_spec(path), path, bundled))
                except ModelError as exc:
                    log.warning("skipping model file %s: %s", path, exc)
        return sorted(found, key=lambda entry: (entry.name, entry.version))

    def versions(self) -> list[ModelVersion]:
        """Every installed model version, with which ones are served and the default."""
        entries = self.entries()
        if not entries:
            return []
        default = self.default_name(entries)
        served = {e.name: self.current_version(e.name, entries) for e in entries}
        versions = []
        for entry in entries:
            is_served = served[entry.name] == entry.version
            versions.append(ModelVersion(entry, is_served, is_served and entry.name == default))
        return versions

    def names(self) -> list[str]:
        """Distinct model names."""
        return sorted({entry.name for entry in self.entries()})

    def default_name(self, entries: list[ModelEntry] | None = None) -> str:
        """The last promoted name, else the bundled default, else the first name."""
        entries = self.entries() if entries is None else entries
        if not entries:
            raise ModelError("no models are installed; train one with `beautynet train`")
        names = {entry.name for entry in entries}
        chosen = self._state().get("default")
        if chosen in names:
            return str(chosen)
        return DEFAULT_MODEL_NAME if DEFAULT_MODEL_NAME in names else entries[0].name

    def current_version(self, name: str, entries: list[ModelEntry] | None = None) -> int:
        """The version served for `name`: promoted, else bundled, else the first."""
        versions = [e for e in (self.entries() if entries is None else entries) if e.name == name]
        if not versions:
            raise ModelError(f"no model called {name!r}")
        available = {e.version for e in versions}
        promoted = [v for v in self._state()["promoted"].get(name, []) if v in available]
        if promoted:
            return int(promoted[-1])
        bundled = [e.version for e in versions if e.bundled]
        return max(bundled) if bundled else min(available)

    def get(self, name: str | None = None, version: int | None = None) -> ModelEntry:
        """The model called `name` (default: the default model), current version by default."""
        entries = self.entries()
        name = name or self.default_name(entries)
        matches = [e for e in entries if e.name == name]
        if not matches:
            known = ", ".join(sorted({e.name for e in entries})) or "none"
            raise ModelError(f"no model called {name!r}; available: {known}")
        wanted = self.current_version(name, entries) if version is None else version
        for entry in matches:
            if entry.version == wanted:
                return entry
        have = ", ".join(str(e.version) for e in matches)
        raise ModelError(f"model {name!r} has no version {wanted}; versions: {have}")

    # ---- changes -------------------------------------------------------------------
    def register(
        self,
        spec: ModelSpec,
        generator: UnetGenerator,
        sample_sheet: Path | None = None,
        enhancer: DetailEnhancer | None = None,
    ) -> ModelEntry:
        """Save a new version of `spec.meta.name` (not served until promoted)."""
        directory = self._require_user_dir()
        taken = [e.version for e in self.entries() if e.name == spec.meta.name]
        version = max(taken, default=0) + 1
        spec = replace(spec, meta=replace(spec.meta, version=version))
        path = inside(directory, f"{spec.meta.name}-v{version}{MODEL_SUFFIX}")
        from .modelfile import save_model  # torch: only a registration writes weights

        save_model(path, spec, generator, enhancer)
        if sample_sheet is not None:
            shutil.copyfile(sample_sheet, path.with_suffix(".png"))
        return ModelEntry(spec, path, bundled=False)

    def promote(self, name: str, version: int | None = None) -> ModelEntry:
        """Serve `version` (default: the newest) for `name`, and make `name` the default."""
        entries = [e for e in self.entries() if e.name == name]
        if not entries:
            raise ModelError(f"no model called {name!r}")
        entry = entries[-1] if version is None else self.get(name, version)
        state = self._state()
        history = [v for v in state["promoted"].get(name, []) if v != entry.version]
        state["promoted"][name] = [*history, entry.version]
        state["default"] = name
        self._save_state(state)
        return entry

    def rollback(self, name: str) -> ModelEntry:
        """Undo the last promotion of `name`; serves what was served before it."""
        state = self._state()
        history = state["promoted"].get(name, [])
        if not history:
            raise ModelError(f"model {name!r} has no promotion to roll back")
        state["promoted"][name] = history[:-1]
        self._save_state(state)
        return self.get(name)

    def delete(self, name: str, version: int) -> None:
        """Remove a user model version; bundled and currently served versions are kept."""
        entry = self.get(name, version)
        if entry.bundled:
            raise ModelError(f"{entry.spec.label} is bundled and cannot be deleted")
        if (
            self.current_version(name) == version
            and len([e for e in self.entries() if e.name == name]) > 1
        ):
            raise ModelError(f"{entry.spec.label} is being served; promote another version first")
        entry.path.unlink()
        entry.path.with_suffix(".png").unlink(missing_ok=True)
        state = self._state()
        if name in state["promoted"]:
            state["promoted"][name] = [v for v in state["promoted"][name] if v != version]
            self._save_state(state)
