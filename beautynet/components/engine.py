"""The engine and the engine service's configuration, from settings."""

from __future__ import annotations

from engine.core import Engine
from engine.device import resolve_device
from engine.service import ServiceConfig
from engine.threads import ThreadPlan, plan_threads
from engine.training import TrainDefaults
from engine.training.config import DetailConfig
from infra.settings import Settings

from .limits import clip_limits, image_limits
from .registry import model_registry


def build_engine(
    settings: Settings,
    device: str | None = None,
    *,
    batch_size: int | None = None,
    streams: int | None = None,
) -> Engine:
    """The engine configured from settings (and overrides): models, runtime, limits, folders.

    `streams` (generator calls at once) defaults to BEAUTYNET_ENGINE_STREAMS (0: auto).
    """
    return Engine(
        model_registry(settings),
        resolve_device(device or settings.device),
        settings.runtime,
        limits=image_limits(settings),
        batch_size=settings.engine_max_batch if batch_size is None else batch_size,
        streams=streams or settings.engine_streams,
        clip_limits=clip_limits(settings),
        datasets_dir=settings.datasets_dir,
        runs_dir=settings.data_dir / "runs",
        machine_dir=settings.data_dir / "machine",
        train_defaults=train_defaults(settings),
        largest=settings.answer_size,
    )


def train_defaults(settings: Settings) -> TrainDefaults:
    """Network size and run length of trainings started from Discord or over HTTP."""
    return TrainDefaults(
        ngf=settings.train_ngf,
        ndf=settings.train_ngf,
        size=settings.train_size,
        epochs=settings.train_epochs,
        epoch_samples=settings.train_epoch_samples,
        detail=None
        if settings.train_detail_steps == 0
        else DetailConfig(steps=settings.train_detail_steps),
    )


def service_threads(settings: Settings) -> ThreadPlan:
    """The engine service's threads: the settings', else sized from the machine."""
    return plan_threads(
        settings.engine_network_threads, settings.engine_codec_threads, settings.engine_streams
    )


def service_config(
    settings: Settings, batching: bool = True, codec_threads: int = 2
) -> ServiceConfig:
    """The service's limits, batching, decode/encode threads and token from settings."""
    token = settings.engine_token.get_secret_value() if settings.engine_token else None
    return ServiceConfig(
        token=token,
        max_upload_bytes=settings.max_image_bytes,
        queue_size=settings.engine_queue_size,
        max_batch=(settings.engine_max_batch or None) if batching else 1,
        batch_wait_s=settings.engine_batch_wait_ms / 1000 if batching else 0.0,
        clip_jobs=settings.engine_clip_jobs,
        live_sessions=settings.engine_live_sessions,
        codec_threads=codec_threads,
        header_timeout_s=settings.engine_header_timeout_s,
        body_timeout_s=settings.engine_body_timeout_s,
    )
