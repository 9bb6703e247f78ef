"""Typed keys of the objects an engine service application holds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp import web

from engine.core import Engine
from engine.training import TrainDefaults
from engine.video import ClipLimits

from .batching import Batcher
from .config import ServiceConfig
from .idempotency import Idempotency
from .jobs import ClipJobs
from .live_sessions import LiveSessions
from .metrics import Metrics
from .training import TrainJobs
from .translators import TranslatorCache


class ImageResult:
    """An encoded translated image and how it was made."""

    def __init__(self, data: bytes, model: str, width: int, height: int) -> None:
        self.data, self.model, self.width, self.height = data, model, width, height


ENGINE = web.AppKey("engine", Engine)
CONFIG = web.AppKey("config", ServiceConfig)
CLIP_LIMITS = web.AppKey("clip_limits", ClipLimits)
METRICS = web.AppKey("metrics", Metrics)
BATCHER = web.AppKey("batcher", Batcher)
CPU_POOL = web.AppKey("cpu_pool", ThreadPoolExecutor)
IDEMPOTENCY = web.AppKey("idempotency", Idempotency[ImageResult])
CLIP_JOBS = web.AppKey("clip_jobs", ClipJobs)
TRANSLATORS = web.AppKey("translators", TranslatorCache)
DATASETS_DIR = web.AppKey("datasets_dir", Path)  # absent: no dataset endpoints
RUNS_DIR = web.AppKey("runs_dir", Path)  # absent: no training endpoints
TRAIN_DEFAULTS = web.AppKey("train_defaults", TrainDefaults)
TRAIN_JOBS = web.AppKey("train_jobs", TrainJobs)
LIVE_SESSIONS = web.AppKey("live_sessions", LiveSessions)
