"""The engine's parts as the settings describe them; shared by the CLI, the bot and the service."""

from __future__ import annotations

from beautynet.settings import Settings
from engine.core import Engine
from engine.device import resolve_device
from engine.imaging import ImageLimits
from engine.models import ModelRegistry
from engine.threads import ThreadPlan, plan_threads
from engine.training import TrainDefaults
from engine.video import ClipLimits


def build_engine(settings: Settings, device: str | None = None, batch_size: int = 0) -> Engine:
    """The engine configured from settings (and a device override): models, limits, folders."""
    return Engine(
        ModelRegistry(settings.models_dir),
        resolve_device(device or settings.device),
        limits=ImageLimits(settings.max_image_bytes, settings.max_image_pixels),
        batch_size=batch_size,
        clip_limits=clip_limits(settings),
        datasets_dir=settings.datasets_dir,
        runs_dir=settings.data_dir / "runs",
        train_defaults=train_defaults(settings),
    )


def clip_limits(settings: Settings) -> ClipLimits:
    """Limits on uploaded clips."""
    return ClipLimits(max_bytes=settings.max_image_bytes, max_seconds=settings.max_clip_seconds)


def train_defaults(settings: Settings) -> TrainDefaults:
    """Network size and run length of trainings started from Discord or over HTTP."""
    return TrainDefaults(
        ngf=settings.train_ngf,
        ndf=settings.train_ngf,
        size=settings.train_size,
        epochs=settings.train_epochs,
        epoch_samples=settings.train_epoch_samples,
    )


def service_threads(settings: Settings) -> ThreadPlan:
    """The engine service's threads: the settings', else sized from the machine."""
    return plan_threads(settings.engine_network_threads, settings.engine_codec_threads)
