"""The models, as the bundled and the data folder hold them (no torch: nothing is loaded)."""

from __future__ import annotations

from engine.models import ModelRegistry
from infra.settings import Settings


def model_registry(settings: Settings) -> ModelRegistry:
    """The bundled models and those in the data folder, by name and version."""
    return ModelRegistry(settings.models_dir)
