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
from engine.runtimes import SLOW
from engine.training import TrainDefaults
from engine.video import ClipLimits

from . import keys
from .access import InFlight, access_middleware
from .batching import Batcher
from .config import ServiceConfig, check_listen_address
from .connections import HeaderDeadline
from .idempotency import Idempotency
from .jobs import ClipJobs
from .live_sessions import LiveSessions
from .metrics import Metrics
from .middlewares import auth_middleware, errors_middleware, security_headers
from .routes import setup_routes
from .training import TrainJobs
from .uploads import CHUNK

log = logging.getLogger(__name__)

# After an answer that leaves the body unread (413, 408), the rest is read and dropped for at
# most this long before the connection closes: closing at once would reset it, and the client
# could lose the answer.
LINGER_S = 2.0
# On SIGINT/SIGTERM the service stops listening and gives the requests in flight this long
# to finish (a clip or a live session may take longer: they are then cut).
STOP_GRACE_S = 20.0


def _reader(batcher: Batcher) -> Callable[[], float]:
    return lambda: batcher.pending


def _runtime_labels(engine: Engine) -> list[dict[str, str]]:
    return [
        {
            "model": label,
            "runtime": info.name,
            "batch": f"{info.batch}",
            "streams": f"{info.streams}",
        }
        for label, info in engine.runtimes().items()
    ]


def _gpu_memory() -> float:
    return float(torch.cuda.memory_allocated()) if torch.cuda.is_available() else 0.0


async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
    """Worker threads, the batcher and the job table live as long as the app runs."""
    config, metrics = app[keys.CONFIG], app[keys.METRICS]
    engine = app[keys.ENGINE]
    network = ThreadPoolExecutor(engine.streams, thread_name_prefix="engine-net")
    cpu = ThreadPoolExecutor(config.codec_threads, thread_name_prefix="engine-cpu")
    clips = ThreadPoolExecutor(1, thread_name_prefix="engine-clip")
    batcher = Batcher(
        network,
        metrics,
        config.max_batch,
        config.batch_wait_s,
        config.queue_size,
        config.retry_after_s,
    )
    jobs = ClipJobs(app[keys.ENGINE], clips, config.clip_jobs)
    app[keys.BATCHER], app[keys.CPU_POOL], app[keys.CLIP_JOBS] = batcher, cpu, jobs
    idempotency: Idempotency[Encoded] = Idempotency(config.idempotency_entries)
    app[keys.IDEMPOTENCY] = idempotency
    metrics.gauge(
        "beautynet_image_jobs_started",
        "Image requests run (retries excluded).",
        lambda: idempotency.runs,
    )
    metrics.gauge("beautynet_queue_depth", "Images waiting for the network.", _reader(batcher))
    metrics.gauge("beautynet_clip_jobs_running", "Clip jobs not finished.", lambda: jobs.running)
    metrics.gauge("beautynet_gpu_memory_bytes", "GPU memory allocated by tensors.", _gpu_memory)
    metrics.info(
        "beautynet_runtime_info",
        "How each loaded model runs: its runtime, batch size and streams.",
        lambda: _runtime_labels(engine),
    )
    metrics.labelled(
        "beautynet_runtime_slowdown",
        "Each loaded model's recent calls against its speed measured on this machine "
        f"(1: as measured; from {SLOW:g}, the log says it is slow).",
        lambda: [({"model": label}, info.slowdown) for label, info in engine.runtimes().items()],
    )
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
        clip_limits=clip_limits,
        datasets_dir=datasets_dir,
        runs_dir=runs_dir,
        train_defaults=train_defaults,
    )
    app = web.Application(
        client_max_size=config.max_upload_bytes + CHUNK,
        middlewares=[access_middleware, errors_middleware, auth_middleware],
    )
    app[keys.ENGINE], app[keys.CONFIG], app[keys.METRICS] = engine, config, Metrics()
    app[keys.LIVE_SESSIONS] = LiveSessions(config.live_sessions)
    app[keys.IN_FLIGHT] = InFlight()
    app.cleanup_ctx.append(workers_ctx)
    app.on_response_prepare.append(security_headers)
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

    `listening` is called with the service's URL once the port is bound. A connection whose
    request head does not arrive within the config's `header_timeout_s` is closed
    (`connections.HeaderDeadline`; aiohttp's keep-alive timer bounds the later ones).
    """
    config, metrics = app[keys.CONFIG], app[keys.METRICS]
    check_listen_address(host, config.token)
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(
        app,
        access_log=None,  # engine.service.access logs each request
        keepalive_timeout=config.header_timeout_s,
        lingering_time=LINGER_S,
        shutdown_timeout=STOP_GRACE_S,
    )
    await runner.setup()

    def stalled() -> None:
        metrics.count("beautynet_stalled_connections_total", phase="headers")

    handlers = runner.server
    assert handlers is not None  # set up above

    def guarded() -> HeaderDeadline:
        return HeaderDeadline(handlers(), config.header_timeout_s, stalled)

    server: asyncio.Server | None = None
    try:
        server = await loop.create_server(guarded, host, port, reuse_address=True)
        url = f"http://{host}:{port}/"
        log.info("engine service on %s: %s", url, _describe(app))
        if listening is not None:
            listening(url)
        await stop.wait()
        log.info(
            "engine service stopping: finishing %d request(s) in flight (at most %g s)",
            app[keys.IN_FLIGHT].count,
            STOP_GRACE_S,
        )
    finally:
        if server is not None:
            server.close()
        await runner.cleanup()
    log.info("engine service stopped")


def _describe(app: web.Application) -> str:
    """Its models (the default marked) and threads, for the start-up line."""
    versions = app[keys.ENGINE].model_versions()
    models = ", ".join(
        v.entry.spec.label + (" (default)" if v.default else "") for v in versions if v.served
    )
    threads = f"network {torch.get_num_threads()}, decode/encode {app[keys.CONFIG].codec_threads}"
    runtimes = "; ".join(app[keys.ENGINE].runtime_lines())
    return f"models {models or 'none'}; threads: {threads}; runtimes: {runtimes or 'none loaded'}"
