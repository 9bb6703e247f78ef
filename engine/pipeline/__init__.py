"""Pipelines that run a model on images and on clips."""

from .clips import DEFAULT_BUDGET_BYTES, ClipFormat, ClipResult, ClipTranslator
from .images import ImageTranslator, Panels, TranslateOptions, Translation

__all__ = [
    "DEFAULT_BUDGET_BYTES",
    "ClipFormat",
    "ClipResult",
    "ClipTranslator",
    "ImageTranslator",
    "Panels",
    "TranslateOptions",
    "Translation",
]
