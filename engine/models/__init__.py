"""Model files and the registry that finds them.

The registry and the specs need no torch, so that listing the models is quick; `Model`,
`load_model` and `save_model` do, and come from `modelfile` when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.names import parse_model_ref
from engine.specs import ModelMeta, ModelSpec

from .header import read_spec
from .registry import ModelEntry, ModelRegistry, ModelVersion

if TYPE_CHECKING:
    from .modelfile import Model, load_model, save_model

_WITH_TORCH = ("Model", "load_model", "save_model")

__all__ = [
    "Model",
    "ModelEntry",
    "ModelMeta",
    "ModelRegistry",
    "ModelSpec",
    "ModelVersion",
    "load_model",
    "parse_model_ref",
    "read_spec",
    "save_model",
]


def __getattr__(name: str) -> Any:
    """`Model`, `load_model` and `save_model`, imported (with torch) on first use."""
    if name in _WITH_TORCH:
        from . import modelfile

        return getattr(modelfile, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
