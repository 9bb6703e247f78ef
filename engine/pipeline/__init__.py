"""Pipelines that run a model on images and on clips."""

from engine.options import Panels, TranslateOptions

from .clips import DEFAULT_BUDGET_BYTES, ClipFormat, ClipResult, ClipTranslator
from .images import DEFAULT_LARGEST, ImageTranslator, Translation

__all__ = [
    "DEFAULT_BUDGET_BYTES",
    "DEFAULT_LARGEST",
    "ClipFormat",
    "ClipResult",
    "ClipTranslator",
    "ImageTranslator",
    "Panels",
    "TranslateOptions",
    "Translation",
]
