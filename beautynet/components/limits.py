"""The limits on untrusted input, from settings: images and clips."""

from __future__ import annotations

from engine.imaging.decode import ImageLimits
from engine.video.probe import ClipLimits
from infra.settings import Settings


def image_limits(settings: Settings) -> ImageLimits:
    """Limits on uploaded and named images: bytes and pixels."""
    return ImageLimits(settings.max_image_bytes, settings.max_image_pixels)


def clip_limits(settings: Settings) -> ClipLimits:
    """Limits on uploaded clips."""
    return ClipLimits(max_bytes=settings.max_image_bytes, max_seconds=settings.max_clip_seconds)
