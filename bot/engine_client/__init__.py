"""How the bot reaches the engine (in-process or over HTTP), behind one interface."""

from .base import (
    EngineClient,
    EngineUnavailableError,
    EngineUserError,
    ModelId,
    ModelInfo,
    ProgressCallback,
    Translated,
    TranslateParams,
)

__all__ = [
    "EngineClient",
    "EngineUnavailableError",
    "EngineUserError",
    "ModelId",
    "ModelInfo",
    "ProgressCallback",
    "TranslateParams",
    "Translated",
]
