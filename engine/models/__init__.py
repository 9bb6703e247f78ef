"""Model files and the registry that finds them."""

from engine.names import parse_model_ref

from .modelfile import Model, ModelMeta, ModelSpec, load_model, read_spec, save_model
from .registry import ModelEntry, ModelRegistry

__all__ = [
    "Model",
    "ModelEntry",
    "ModelMeta",
    "ModelRegistry",
    "ModelSpec",
    "load_model",
    "parse_model_ref",
    "read_spec",
    "save_model",
]
