"""Typed keys of the objects an engine service application holds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from engine.core import Encoded, Engine

from . import access
from .batching import Batcher
from .config import ServiceConfig
from .idempotency import Idempotency
from .jobs import ClipJobs
from .live_sessions import LiveSessions
from .metrics import Metrics
from .training import TrainJobs

ENGINE = web.AppKey("engine", Engine)  # with the folders and limits this service offers
CONFIG = web.AppKey("config", ServiceConfig)
METRICS = web.AppKey("metrics", Metrics)
BATCHER = web.AppKey("batcher", Batcher)
CPU_POOL = web.AppKey("cpu_pool", ThreadPoolExecutor)
IDEMPOTENCY = web.AppKey("idempotency", Idempotency[Encoded])
CLIP_JOBS = web.AppKey("clip_jobs", ClipJobs)
TRAIN_JOBS = web.AppKey("train_jobs", TrainJobs)
LIVE_SESSIONS = web.AppKey("live_sessions", LiveSessions)
IN_FLIGHT = access.IN_FLIGHT
