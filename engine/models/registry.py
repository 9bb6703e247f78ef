"""Model registry: the bundled models plus those in the user's models directory."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ModelError

from .modelfile import MODEL_SUFFIX, ModelSpec, read_spec

log = logging.getLogger(__name__)

BUNDLED_MODELS_DIR = Path(__file__).resolve().parent.parent / "bundled" / "models"
DEFAULT_MODEL_NAME = "nature"


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


class ModelRegistry:
    """Finds model files; a name resolves to its newest version unless one is asked for."""

    def __init__(self, user_dir: Path | None, bundled_dir: Path = BUNDLED_MODELS_DIR) -> None:
        self.user_dir = user_dir
        self.bundled_dir = bundled_dir

    def entries(self) -> list[ModelEntry]:
        """Every readable model, sorted by name then version; unreadable files are logged."""
        found: list[ModelEntry] = []
        for directory, bundled in ((self.bundled_dir, True), (self.user_dir, False)):
            if directory is None or not directory.is_dir():
                continue
            for path in sorted(directory.glob(f"*{MODEL_SUFFIX}")):
                try:
                    found.append(ModelEntry(read_spec(path), path, bundled))
                except ModelError as exc:
                    log.warning("skipping model file %s: %s", path, exc)
        return sorted(found, key=lambda entry: (entry.name, entry.version))

    def names(self) -> list[str]:
        """Distinct model names."""
        return sorted({entry.name for entry in self.entries()})

    def get(self, name: str | None = None, version: int | None = None) -> ModelEntry:
        """The model called `name` (default: the bundled default), newest version by default."""
        entries = self.entries()
        if not entries:
            raise ModelError("no models are installed; train one with `beautynet train`")
        if name is None:
            name = (
                DEFAULT_MODEL_NAME
                if any(e.name == DEFAULT_MODEL_NAME for e in entries)
                else entries[0].name
            )
        matches = [e for e in entries if e.name == name and version in (None, e.version)]
        if not matches:
            known = ", ".join(sorted({e.name for e in entries}))
            wanted = name if version is None else f"{name} v{version}"
            raise ModelError(f"no model called {wanted!r}; available: {known}")
        return matches[-1]


def parse_model_ref(ref: str) -> tuple[str, int | None]:
    """'nature' -> ('nature', None); 'nature@3' -> ('nature', 3)."""
    name, _, version = ref.partition("@")
    if version and not version.isdigit():
        raise ValueError(f"model version must be a number, got {ref!r}")
    return name, int(version) if version else None
