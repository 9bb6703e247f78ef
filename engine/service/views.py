"""Request handlers: parse and check the request, hand the work to the engine, answer."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from engine.datasets import MemoryFile, add_sources, list_datasets
from engine.errors import ModelError
from engine.imaging import decode_image, encode_image
from engine.models import ModelEntry
from engine.pipeline import Panels, TranslateOptions
from engine.segment import ClustersConfig

from . import keys
from .idempotency import IdempotencyConflictError, fingerprint
from .keys import ImageResult
from .openapi import openapi_document
from .training import TrainJob, TrainJobs, train_config
from .uploads import read_files, read_upload

REQUEST_ID_HEADER = "X-Request-Id"
MAX_REQUEST_ID = 128


def request_id(request: web.Request) -> str:
    """The caller's request id (the idempotency key), or a fresh one."""
    given = request.headers.get(REQUEST_ID_HEADER, "").strip()
    if len(given) > MAX_REQUEST_ID:
        raise ValueError(f"{REQUEST_ID_HEADER} is longer than {MAX_REQUEST_ID} characters")
    return given or uuid.uuid4().hex


def _int_field(fields: dict[str, str], name: str) -> int | None:
    value = fields.get(name, "").strip()
    if not value:
        return None
    if not value.lstrip("-").isdigit():
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def parse_params(fields: dict[str, str]) -> tuple[str | None, TranslateOptions]:
    """(model or None, options) from the form's text fields; ValueError names the field."""
    model = fields.get("model", "").strip() or None
    if model is not None and len(model) > 100:
        raise ValueError("model must be at most 100 characters")
    k = _int_field(fields, "k")
    if k is not None and not 2 <= k <= 32:
        raise ValueError(f"k must be between 2 and 32, got {k}")
    panels = _int_field(fields, "panels") or 2
    if panels not in (2, 3):
        raise ValueError(f"panels must be 2 or 3, got {panels}")
    chosen: Panels = 3 if panels == 3 else 2
    return model, TranslateOptions(k=k, panels=chosen, size=_int_field(fields, "size"))


# ---- plain endpoints ---------------------------------------------------------------------
async def healthz(request: web.Request) -> web.Response:
    """Liveness and load: cheap, no auth."""
    batcher = request.app[keys.BATCHER]
    return web.json_response({"status": "ok", "queue": batcher.pending})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    text = request.app[keys.METRICS].render()
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3 description of this service."""
    return web.json_response(openapi_document())


def _describe(entry: ModelEntry, served: bool, default: bool) -> dict[str, Any]:
    config = entry.spec.segmenter
    segmenter = f"clusters k={config.k}" if isinstance(config, ClustersConfig) else config.kind
    return {
        "name": entry.name, "version": entry.version, "label": entry.spec.label,
        "description": entry.spec.meta.description, "segmenter": segmenter,
        "served": served, "default": default, "has_sample_sheet": entry.sample_sheet is not None,
    }  # fmt: skip


def _model_list(request: web.Request) -> list[dict[str, Any]]:
    registry = request.app[keys.ENGINE].registry
    entries = registry.entries()
    if not entries:
        return []
    default = registry.default_name(entries)
    served = {name: registry.current_version(name, entries) for name in registry.names()}
    return [
        _describe(e, served[e.name] == e.version, served[e.name] == e.version and e.name == default)
        for e in entries
    ]


async def models(request: web.Request) -> web.Response:
    """Every installed model version."""
    loop = asyncio.get_running_loop()
    listed = await loop.run_in_executor(request.app[keys.CPU_POOL], _model_list, request)
    return web.json_response({"models": listed})


async def sample_sheet(request: web.Request) -> web.Response:
    """The validation sample sheet saved with a model version."""
    version = request.match_info["version"]
    if not version.isdigit():
        raise web.HTTPNotFound(reason="no such model version")
    entry = request.app[keys.ENGINE].registry.get(request.match_info["name"], int(version))
    if entry.sample_sheet is None:
        raise web.HTTPNotFound(reason=f"{entry.spec.label} has no sample sheet")
    return web.Response(body=entry.sample_sheet.read_bytes(), content_type="image/png")


# ---- model administration ------------------------------------------------------------
async def _admin(request: web.Request, action: Callable[[], ModelEntry | None]) -> Any:
    """Run a registry change in the worker pool; refusals (bundled, served...) are 409s."""
    request.app[keys.ENGINE].registry.get(request.match_info["name"])  # unknown name: 404
    loop = asyncio.get_running_loop()
    try:
        result = await loop.run_in_executor(request.app[keys.CPU_POOL], action)
    except ModelError as exc:
        raise web.HTTPConflict(reason=str(exc)) from exc
    request.app[keys.TRANSLATORS].clear()
    return result


async def promote(request: web.Request) -> web.Response:
    """POST /v1/models/{name}/promote (form field `version`, default newest)."""
    fields = {key: str(value) for key, value in (await request.post()).items()}
    version = _int_field(fields, "version")
    registry, name = request.app[keys.ENGINE].registry, request.match_info["name"]
    entry = await _admin(request, lambda: registry.promote(name, version))
    return web.json_response({"label": entry.spec.label})


async def rollback(request: web.Request) -> web.Response:
    """POST /v1/models/{name}/rollback: serve what was served before the last promotion."""
    registry, name = request.app[keys.ENGINE].registry, request.match_info["name"]
    entry = await _admin(request, lambda: registry.rollback(name))
    return web.json_response({"label": entry.spec.label})


async def delete_model(request: web.Request) -> web.Response:
    """DELETE /v1/models/{name}/{version}: remove a user model version."""
    version = request.match_info["version"]
    if not version.isdigit():
        raise web.HTTPNotFound(reason="no such model version")
    registry, name = request.app[keys.ENGINE].registry, request.match_info["name"]
    await _admin(request, lambda: registry.delete(name, int(version)))
    return web.Response(status=204)


# ---- datasets ----------------------------------------------------------------------------
MAX_DATASET_FILES = 100


def _datasets_dir(request: web.Request) -> Path:
    folder = request.app.get(keys.DATASETS_DIR)
    if folder is None:
        raise web.HTTPNotFound(reason="datasets are not configured on this engine")
    return folder


async def datasets(request: web.Request) -> web.Response:
    """GET /v1/datasets: every dataset with its size."""
    folder = _datasets_dir(request)
    loop = asyncio.get_running_loop()
    manifests = await loop.run_in_executor(request.app[keys.CPU_POOL], list_datasets, folder)
    listed = [
        {"name": m.name, "images": len(m.entries), "bytes": m.total_bytes, "updated": m.updated}
        for m in manifests
    ]
    return web.json_response({"datasets": listed})


async def add_images(request: web.Request) -> web.Response:
    """POST /v1/datasets/{name}/images: decode, deduplicate and store uploaded images."""
    folder, name = _datasets_dir(request), request.match_info["name"]
    limit = request.app[keys.CONFIG].max_upload_bytes
    files = await read_files(request, "images", limit, 4 * limit, MAX_DATASET_FILES)
    sources = [MemoryFile(filename, data) for filename, data in files]
    engine = request.app[keys.ENGINE]
    report = await asyncio.get_running_loop().run_in_executor(
        request.app[keys.CPU_POOL],
        functools.partial(add_sources, folder, name, sources, limits=engine.limits),
    )
    return web.json_response({
        "name": report.name, "added": len(report.added), "duplicates": len(report.duplicates),
        "rejected": [[r.source, r.reason] for r in report.rejected],
        "total_images": report.total_images,
    })  # fmt: skip


# ---- training ----------------------------------------------------------------------------
def _train_jobs(request: web.Request) -> TrainJobs:
    jobs = request.app.get(keys.TRAIN_JOBS)
    if jobs is None:
        raise web.HTTPNotFound(reason="training is not configured on this engine")
    return jobs


async def start_training(request: web.Request) -> web.Response:
    """POST /v1/trainings: train `name` on `dataset`; 202 with the job to follow."""
    jobs, rid = _train_jobs(request), request_id(request)
    fields = {key: str(value) for key, value in (await request.post()).items()}
    dataset = fields.get("dataset", "").strip()
    if not dataset:
        raise ValueError("dataset is required")
    job = jobs.start(rid, dataset, train_config(fields, request.app[keys.TRAIN_DEFAULTS]))
    headers = {"Location": f"/v1/trainings/{job.id}"}
    return web.json_response(job.describe(), status=202, headers=headers)


def _train_job(request: web.Request) -> TrainJob:
    job = _train_jobs(request).get(request.match_info["job_id"])
    if job is None:
        raise web.HTTPNotFound(reason="no such training job")
    return job


async def training_status(request: web.Request) -> web.Response:
    """GET /v1/trainings/{job_id}: progress, then how the run ended."""
    return web.json_response(_train_job(request).describe())


async def training_sheet(request: web.Request) -> web.Response:
    """GET /v1/trainings/{job_id}/sample.png: the latest validation sample sheet."""
    job = _train_job(request)
    if job.sheet is None:
        raise web.HTTPNotFound(reason="no sample sheet yet")
    return web.Response(body=job.sheet, content_type="image/png")


async def stop_training(request: web.Request) -> web.Response:
    """POST /v1/trainings/{job_id}/stop: end the run early (a checkpoint is kept)."""
    job = _train_job(request)
    job.stop.set()
    return web.json_response(job.describe(), status=202)


# ---- images ------------------------------------------------------------------------------
async def _translate_image(
    app: web.Application, data: bytes, model: str | None, options: TranslateOptions
) -> ImageResult:
    """decode -> (batched) translate -> compose and encode, timing each stage."""
    loop, pool, stats = asyncio.get_running_loop(), app[keys.CPU_POOL], app[keys.METRICS]
    engine = app[keys.ENGINE]
    start = time.monotonic()
    image = await loop.run_in_executor(pool, decode_image, data, engine.limits)
    translator = await loop.run_in_executor(pool, app[keys.TRANSLATORS].get, model)
    decoded = time.monotonic()
    stats.observe_stage("decode", decoded - start)
    translation = await app[keys.BATCHER].translate(translator, image, options)
    translated = time.monotonic()
    composed = translation.compose(options.panels)
    encoded = await loop.run_in_executor(pool, encode_image, composed, "png")
    stats.observe_stage("encode", time.monotonic() - translated)
    stats.observe_stage("total", time.monotonic() - start)
    return ImageResult(encoded, translator.model.spec.label, composed.width, composed.height)


async def translate(request: web.Request) -> web.Response:
    """POST /v1/translate: one image in, original | interpretation (PNG) out."""
    rid = request_id(request)
    upload = await read_upload(request, "image", request.app[keys.CONFIG].max_upload_bytes)
    model, options = parse_params(upload.fields)
    digest = fingerprint(upload.data, model, repr(options))
    try:
        result = await request.app[keys.IDEMPOTENCY].run(
            rid, digest, lambda: _translate_image(request.app, upload.data, model, options)
        )
    except IdempotencyConflictError as exc:
        raise web.HTTPConflict(reason=str(exc)) from exc
    headers = {
        REQUEST_ID_HEADER: rid, "X-Model": result.model,
        "X-Width": str(result.width), "X-Height": str(result.height),
    }  # fmt: skip
    return web.Response(body=result.data, content_type="image/png", headers=headers)


# ---- clips -------------------------------------------------------------------------------
async def start_clip(request: web.Request) -> web.Response:
    """POST /v1/clips: start translating a clip; 202 with the job to follow."""
    rid = request_id(request)
    upload = await read_upload(request, "clip", request.app[keys.CONFIG].max_upload_bytes)
    model, options = parse_params(upload.fields)
    budget = _int_field(upload.fields, "budget_bytes") or 10 * 1024 * 1024
    if budget < 64 * 1024:
        raise ValueError(f"budget_bytes must be at least 65536, got {budget}")
    digest = fingerprint(upload.data, model, repr(options), str(budget))
    jobs = request.app[keys.CLIP_JOBS]
    known = jobs.get(rid)
    if known is not None and known.digest != digest:
        raise web.HTTPConflict(reason=f"request id {rid!r} was already used for another clip")
    job = known or jobs.start(rid, digest, upload.data, model, options, budget)
    location = f"/v1/clips/{job.id}"
    return web.json_response(job.describe(), status=202, headers={"Location": location})


def _job(request: web.Request) -> Any:
    job = request.app[keys.CLIP_JOBS].get(request.match_info["job_id"])
    if job is None:
        raise web.HTTPNotFound(reason="no such clip job (finished jobs are kept for a while)")
    return job


async def clip_status(request: web.Request) -> web.Response:
    """GET /v1/clips/{job_id}: state and progress."""
    return web.json_response(_job(request).describe())


async def clip_result(request: web.Request) -> web.StreamResponse:
    """GET /v1/clips/{job_id}/result: the MP4 once the job is done."""
    job = _job(request)
    if job.state != "done" or job.result is None:
        raise web.HTTPConflict(reason=f"the clip job is {job.state}")
    headers = {
        "X-Model": job.model, "X-Width": str(job.result.width),
        "X-Height": str(job.result.height), "Content-Type": "video/mp4",
    }  # fmt: skip
    return web.FileResponse(job.result.path, headers=headers)
