"""The engine service application: factory, worker lifetimes, and `serve`."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from aiohttp import web

from engine.core import Encoded, Engine
from engine.training import TrainDefaults
from engine.video import ClipLimits

from . import keys
from .batching import Batcher
from .config import ServiceConfig, check_listen_address
from .idempotency import Idempotency
from .jobs import ClipJobs
from .live_sessions import LiveSessions
from .metrics import Metrics
from .middlewares import auth_middleware, errors_middleware
from .routes import setup_routes
from .training import TrainJobs
from .uploads import CHUNK

log = logging.getLogger(__name__)


def _reader(batcher: Batcher) -> Callable[[], float]:
    return lambda: batcher.pending


def _gpu_memory() -> float:
    return float(torch.cuda.memory_allocated()) if torch.cuda.is_available() else 0.0


async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
    """Worker threads, the batcher and the job table live as long as the app runs."""
    config, metrics = app[keys.CONFIG], app[keys.METRICS]
    network = ThreadPoolExecutor(1, thread_name_prefix="engine-net")
    cpu = ThreadPoolExecutor(config.codec_threads, thread_name_prefix="engine-cpu")
    clips = ThreadPoolExecutor(1, thread_name_prefix="engine-clip")
    batcher = Batcher(
        network, metrics, config.max_batch, config.batch_wait_s, config.queue_size,
        config.retry_after_s,
    )  # fmt: skip
    jobs = ClipJobs(app[keys.ENGINE], clips, config.clip_jobs)
    app[keys.BATCHER], app[keys.CPU_POOL], app[keys.CLIP_JOBS] = batcher, cpu, jobs
    idempotency: Idempotency[Encoded] = Idempotency(config.idempotency_entries)
    app[keys.IDEMPOTENCY] = idempotency
    metrics.gauge(
        "beautynet_image_jobs_started", "Image requests run (retries excluded).",
        lambda: idempotency.runs,
    )  # fmt: skip
    metrics.gauge("beautynet_queue_depth", "Images waiting for the network.", _reader(batcher))
    metrics.gauge("beautynet_clip_jobs_running", "Clip jobs not finished.", lambda: jobs.running)
    metrics.gauge("beautynet_gpu_memory_bytes", "GPU memory allocated by tensors.", _gpu_memory)
    live = app[keys.LIVE_SESSIONS]
    metrics.gauge("beautynet_live_sessions", "Live camera sessions open.", lambda: live.open)
    metrics.gauge("beautynet_live_frames_answered", "Frames answered.", lambda: live.answered)
    metrics.gauge(
        "beautynet_live_frames_dropped", "Frames replaced by newer ones.", lambda: live.dropped
    )
    training = ThreadPoolExecutor(1, thread_name_prefix="engine-train")
    app[keys.TRAIN_JOBS] = TrainJobs(app[keys.ENGINE], training)
    batcher.start()
    yield
    await batcher.stop()
    app[keys.TRAIN_JOBS].stop_all()
    for pool in (network, cpu, clips, training):
        pool.shutdown(wait=False, cancel_futures=True)
    jobs.close()


def create_app(
    engine: Engine,
    config: ServiceConfig | None = None,
    clip_limits: ClipLimits | None = None,
    datasets_dir: Path | None = None,
    runs_dir: Path | None = None,
    train_defaults: TrainDefaults | None = None,
) -> web.Application:
    """An aiohttp application serving `engine`; datasets and training when it has folders.

    clip_limits, datasets_dir, runs_dir and train_defaults, when given, replace the engine's.
    """
    config = config or ServiceConfig()
    engine = engine.configured(
        clip_limits=clip_limits, datasets_dir=datasets_dir, runs_dir=runs_dir,
        train_defaults=train_defaults,
    )  # fmt: skip
    app = web.Application(
        client_max_size=config.max_upload_bytes + CHUNK,
        middlewares=[errors_middleware, auth_middleware],
    )
    app[keys.ENGINE], app[keys.CONFIG], app[keys.METRICS] = engine, config, Metrics()
    app[keys.LIVE_SESSIONS] = LiveSessions(config.live_sessions)
    app.cleanup_ctx.append(workers_ctx)
    setup_routes(app)
    return app


async def serve(
    app: web.Application,
    host: str,
    port: int,
    stop: asyncio.Event | None = None,
    listening: Callable[[str], None] | None = None,
) -> None:
    """Serve `app` on host:port until `stop` is set (default: until SIGINT or SIGTERM).

    `listening` is called with the service's URL once the port is bound.
    """
    check_listen_address(host, app[keys.CONFIG].token)
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        url = f"http://{host}:{port}/"
        log.info("engine service listening on %s", url)
        if listening is not None:
            listening(url)
        await stop.wait()
        log.info("engine service stopping")
    finally:
        await runner.cleanup()
