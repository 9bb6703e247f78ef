"""A model file's spec, read without torch.

A model file is `torch.save`'s zip archive: `data.pkl` pickles the payload dict, whose
tensors refer to storages kept beside it in the archive. This reader unpickles only builtins,
`OrderedDict` and torch's tensor rebuilders (each replaced by a placeholder that reads no
weight), so listing the models costs neither torch's import nor the weights, and it runs no
code from the file (as `torch.load(..., weights_only=True)` does not).
"""

from __future__ import annotations

import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

from engine.errors import ModelError
from engine.specs import ModelSpec

FORMAT = "beautynet-model"
FORMAT_VERSION = 1
MODEL_SUFFIX = ".pt"
PAYLOAD = "data.pkl"  # torch.save's pickle, in the archive's one folder


class _Placeholder:
    """Stands for a tensor or a storage type: takes any arguments, holds nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass


class _HeaderUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch" or module.startswith("torch."):
            return _Placeholder
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a model file")

    def persistent_load(self, pid: Any) -> None:
        return None  # a tensor's storage: the weights are not read here


def read_header(path: Path) -> dict[str, Any]:
    """A model file's payload with its tensors left out (ModelError: not a model file)."""
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            (name,) = [n for n in archive.namelist() if n.rpartition("/")[2] == PAYLOAD]
            with archive.open(name) as pickled:
                payload = _HeaderUnpickler(pickled).load()
    except Exception as exc:  # a foreign or damaged file fails in many ways
        raise ModelError(
            f"{path.name} is not a beautynet model file ({exc.__class__.__name__})"
        ) from exc
    return check_payload(payload, path)


def check_payload(payload: Any, path: Path) -> dict[str, Any]:
    """The payload, once it is confirmed to be a beautynet model of a readable version."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"{path.name} is not a beautynet model file")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{path.name} has format version {payload.get('format_version')}, "
            f"this beautynet reads version {FORMAT_VERSION}"
        )
    return payload


def read_spec(path: Path) -> ModelSpec:
    """The spec stored in a model file, without torch and without its weights."""
    return spec_of(read_header(path), path)


def spec_of(payload: dict[str, Any], path: Path) -> ModelSpec:
    """The spec of a checked payload (ModelError: an invalid config)."""
    try:
        return ModelSpec.from_dict(payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path.name} has an invalid config: {exc}") from exc
