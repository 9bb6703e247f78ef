"""Pipelines that run a model on images (and, later, clips)."""

from .images import ImageTranslator, Panels, TranslateOptions, Translation

__all__ = ["ImageTranslator", "Panels", "TranslateOptions", "Translation"]
