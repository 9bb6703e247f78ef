"""Request handlers: parse and check the request, hand the work to the engine, answer."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from engine.core import Compared, Encoded
from engine.errors import InputError, ModelError
from engine.models import ModelSpec, ModelVersion
from engine.names import check_name, check_version, parse_model_ref
from engine.pipeline import DEFAULT_BUDGET_BYTES, Panels, TranslateOptions
from engine.video import is_clip

from . import keys
from .idempotency import IdempotencyConflictError, fingerprint
from .jobs import ClipJob
from .openapi import openapi_document
from .training import TrainJob, TrainJobs, train_config
from .uploads import read_files, read_form, read_upload

REQUEST_ID_HEADER = "X-Request-Id"
MAX_REQUEST_ID = 128
T = TypeVar("T")


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
    digits = value.removeprefix("-")
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 12):
        raise ValueError(f"{name} must be a whole number, got {value[:20]!r}")
    return int(value)


MIN_BUDGET = 64 * 1024


def _budget(fields: dict[str, str]) -> int | None:
    """The form's `budget_bytes` (the largest answer wanted), None when absent."""
    budget = _int_field(fields, "budget_bytes")
    if budget is not None and budget < MIN_BUDGET:
        raise ValueError(f"budget_bytes must be at least {MIN_BUDGET}, got {budget}")
    return budget


def _max_seconds(fields: dict[str, str]) -> float | None:
    """The form's `max_seconds` (a clip's length limit, under the engine's own), if any."""
    value = fields.get("max_seconds", "").strip()
    if not value:
        return None
    try:
        seconds = float(value[:20])
    except ValueError:
        raise ValueError(f"max_seconds must be a number, got {value[:20]!r}") from None
    if not 0 < seconds < 1e6:
        raise ValueError(f"max_seconds must be positive, got {value[:20]!r}")
    return seconds


def parse_params(fields: dict[str, str]) -> tuple[str | None, TranslateOptions]:
    """(model or None, options) from the form's text fields; ValueError names the field."""
    model = fields.get("model", "").strip() or None
    if model is not None:
        parse_model_ref(model)  # the name (and version) checked at the door
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
    batcher, in_flight = request.app[keys.BATCHER], request.app[keys.IN_FLIGHT]
    loaded = request.app[keys.ENGINE].runtimes().items()
    return web.json_response(
        {
            "status": "ok",
            "queue": batcher.pending,
            "in_flight": in_flight.count,  # this request too
            "runtimes": {label: info.describe() for label, info in loaded},
        }
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    text = request.app[keys.METRICS].render()
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3 description of this service."""
    return web.json_response(openapi_document())


def _describe(version: ModelVersion) -> dict[str, Any]:
    entry = version.entry
    return {
        "name": entry.name,
        "version": entry.version,
        "label": entry.spec.label,
        "description": entry.spec.meta.description,
        "segmenter": version.segmenter,
        "served": version.served,
        "default": version.default,
        "has_sample_sheet": entry.sample_sheet is not None,
    }


async def _in_pool(request: web.Request, func: Callable[..., T], *args: Any) -> T:
    """Run a blocking engine call in the service's CPU pool."""
    pool = request.app[keys.CPU_POOL]
    return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(func, *args))


async def models(request: web.Request) -> web.Response:
    """Every installed model version."""
    versions = await _in_pool(request, request.app[keys.ENGINE].model_versions)
    return web.json_response({"models": [_describe(version) for version in versions]})


def _name(request: web.Request, what: str = "model") -> str:
    """The path's {name}, checked by the one name rule (400 when it breaks it)."""
    return check_name(request.match_info["name"], what)


def _version(request: web.Request) -> int:
    """The path's {version}, checked by the one version rule."""
    return check_version(request.match_info["version"])


async def sample_sheet(request: web.Request) -> web.Response:
    """The validation sample sheet saved with a model version."""
    engine, name, version = request.app[keys.ENGINE], _name(request), _version(request)
    sheet = await _in_pool(request, engine.sample_sheet, name, version)
    return web.Response(body=sheet, content_type="image/png")


# ---- model administration ------------------------------------------------------------
async def _admin(request: web.Request, action: Callable[..., T], *args: Any) -> T:
    """Run a catalogue change in the worker pool; refusals (bundled, served...) are 409s."""
    engine, name = request.app[keys.ENGINE], _name(request)
    await _in_pool(request, engine.model, name)  # unknown name: 404
    try:
        return await _in_pool(request, action, name, *args)
    except ModelError as exc:
        raise web.HTTPConflict(reason=str(exc)) from exc


async def promote(request: web.Request) -> web.Response:
    """POST /v1/models/{name}/promote (form field `version`, default newest)."""
    _name(request)  # before the body is read
    version = (await read_form(request)).get("version", "").strip()
    checked = check_version(version) if version else None
    entry = await _admin(request, request.app[keys.ENGINE].promote, checked)
    return web.json_response({"label": entry.spec.label})


async def rollback(request: web.Request) -> web.Response:
    """POST /v1/models/{name}/rollback: serve what was served before the last promotion."""
    entry = await _admin(request, request.app[keys.ENGINE].rollback)
    return web.json_response({"label": entry.spec.label})


async def delete_model(request: web.Request) -> web.Response:
    """DELETE /v1/models/{name}/{version}: remove a user model version."""
    await _admin(request, request.app[keys.ENGINE].delete, _version(request))
    return web.Response(status=204)


# ---- datasets ----------------------------------------------------------------------------
MAX_DATASET_FILES = 100


async def datasets(request: web.Request) -> web.Response:
    """GET /v1/datasets: every dataset with its size."""
    manifests = await _in_pool(request, request.app[keys.ENGINE].datasets)
    listed = [
        {"name": m.name, "images": len(m.entries), "bytes": m.total_bytes, "updated": m.updated}
        for m in manifests
    ]
    return web.json_response({"datasets": listed})


async def add_images(request: web.Request) -> web.Response:
    """POST /v1/datasets/{name}/images: decode, deduplicate and store uploaded images."""
    engine, name = request.app[keys.ENGINE], _name(request, "dataset")
    engine.datasets_folder()  # none here: 404 before reading the upload
    limit = request.app[keys.CONFIG].max_upload_bytes
    files = await read_files(request, "images", limit, 4 * limit, MAX_DATASET_FILES)
    report = await _in_pool(request, engine.add_images, name, files)
    return web.json_response(
        {
            "name": report.name,
            "added": len(report.added),
            "duplicates": len(report.duplicates),
            "rejected": [[r.source, r.reason] for r in report.rejected],
            "total_images": report.total_images,
        }
    )


# ---- training ----------------------------------------------------------------------------
def _train_jobs(request: web.Request) -> TrainJobs:
    request.app[keys.ENGINE].runs_folder()  # no training on this engine: 404
    return request.app[keys.TRAIN_JOBS]


async def start_training(request: web.Request) -> web.Response:
    """POST /v1/trainings: train `name` on `dataset`; 202 with the job to follow.

    Every name is checked before anything starts; with `dry_run=true` nothing starts (200).
    """
    jobs, rid = _train_jobs(request), request_id(request)
    fields = await read_form(request)
    dataset = fields.get("dataset", "").strip()
    if not dataset:
        raise ValueError("dataset is required")
    config = train_config(fields, request.app[keys.ENGINE])
    jobs.check(check_name(dataset, "dataset"))
    if fields.get("dry_run", "").strip().lower() in ("1", "true"):
        return web.json_response({"dataset": dataset, "name": config.model_name})
    job = jobs.start(rid, dataset, config)
    headers = {"Location": f"/v1/trainings/{job.id}"}
    return web.json_response(job.describe(), status=202, headers=headers)


def _found(job: T | None, reason: str) -> T:
    """The job, or a 404 that says why there is none."""
    if job is None:
        raise web.HTTPNotFound(reason=reason)
    return job


def _train_job(request: web.Request) -> TrainJob:
    return _found(_train_jobs(request).get(request.match_info["job_id"]), "no such training job")


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
async def _in_codec_pool(app: web.Application, stage: str, work: Callable[[], T]) -> T:
    """Run decode or encode work in the CPU pool; its cost and its wait are timed apart.

    `stage` is the work itself; `codec_wait` the time it waited for a free worker.
    """
    stats, queued = app[keys.METRICS], time.monotonic()

    def timed() -> T:
        started = time.monotonic()
        try:
            return work()
        finally:
            stats.observe_stage("codec_wait", started - queued)
            stats.observe_stage(stage, time.monotonic() - started)

    return await asyncio.get_running_loop().run_in_executor(app[keys.CPU_POOL], timed)


async def _translate_image(
    app: web.Application,
    data: bytes,
    model: str | None,
    options: TranslateOptions,
    budget: int | None,
) -> Encoded:
    """decode -> (batched) translate -> compose and encode, timing each stage."""
    engine, start = app[keys.ENGINE], time.monotonic()
    image, translator = await _in_codec_pool(
        app, "decode", lambda: (engine.decode(data), engine.translator(model))
    )
    translation = await app[keys.BATCHER].translate(translator, image, options)
    translation = await _in_codec_pool(
        app, "detail", lambda: translator.detailed(image, translation, options, engine.largest)
    )
    spec = translator.model.spec
    encoded = await _in_codec_pool(
        app, "encode", lambda: engine.encode(translation, options.panels, spec, budget_bytes=budget)
    )
    app[keys.METRICS].observe_stage("total", time.monotonic() - start)
    return encoded


async def translate(request: web.Request) -> web.Response:
    """POST /v1/translate: any media in. A still image is answered at once (200, PNG); a
    clip (a video, or an animated GIF, WebP or PNG: `engine.video.is_clip`) starts a clip
    job, as /v1/clips does (202, the job to follow)."""
    rid = request_id(request)
    upload = await read_upload(request, "image", request.app[keys.CONFIG].max_upload_bytes)
    model, options = parse_params(upload.fields)
    budget = _budget(upload.fields)
    if is_clip(upload.data):
        seconds = _max_seconds(upload.fields)
        return _start_clip_job(request, rid, upload.data, model, options, budget, seconds)
    digest = fingerprint(upload.data, model, repr(options), str(budget))
    try:
        result = await request.app[keys.IDEMPOTENCY].run(
            rid, digest, lambda: _translate_image(request.app, upload.data, model, options, budget)
        )
    except IdempotencyConflictError as exc:
        raise web.HTTPConflict(reason=str(exc)) from exc
    headers = {REQUEST_ID_HEADER: rid, **model_headers(result.model), **_fit_headers(result)}
    return web.Response(body=result.data, content_type="image/png", headers=headers)


def _fit_headers(result: Encoded | Compared) -> dict[str, str]:
    """Its size, and what had to change to fit its budget."""
    headers = {"X-Width": str(result.width), "X-Height": str(result.height)}
    if isinstance(result, Encoded):  # the interpretation's own size, beside the original
        headers["X-Panel-Size"] = "{}x{}".format(*result.panel)
    if result.quality_reduced:
        headers["X-Quality-Reduced"] = "1"
        headers["X-Notes"] = "; ".join(result.notes)
    return headers


async def compare(request: web.Request) -> web.Response:
    """POST /v1/compare: one still image through several models (`models`, comma-separated
    names or name@version), one labelled grid (PNG) within `budget_bytes`."""
    upload = await read_upload(request, "image", request.app[keys.CONFIG].max_upload_bytes)
    names = [name.strip() for name in upload.fields.get("models", "").split(",") if name.strip()]
    if not names:
        raise ValueError("models must name at least one model")
    if len(names) > MAX_COMPARED:
        raise ValueError(f"models may name at most {MAX_COMPARED} models, got {len(names)}")
    for name in names:
        parse_model_ref(name)
    budget = _budget(upload.fields)
    engine = request.app[keys.ENGINE]
    result = await _in_pool(request, engine.compare, upload.data, names, budget)
    headers = {
        "X-Models": ",".join(f"{m.meta.name}@{m.meta.version}" for m in result.models),
        **_fit_headers(result),
    }
    return web.Response(body=result.data, content_type="image/png", headers=headers)


MAX_COMPARED = 12


def model_headers(spec: ModelSpec) -> dict[str, str]:
    """Which model version made a result: its name and version as fields, and its label."""
    name, version = spec.meta.name, str(spec.meta.version)
    return {"X-Model-Name": name, "X-Model-Version": version, "X-Model": spec.label}


# ---- clips -------------------------------------------------------------------------------
async def start_clip(request: web.Request) -> web.Response:
    """POST /v1/clips: start translating a clip; 202 with the job to follow."""
    rid = request_id(request)
    upload = await read_upload(request, "clip", request.app[keys.CONFIG].max_upload_bytes)
    model, options = parse_params(upload.fields)
    budget = _budget(upload.fields)
    if not is_clip(upload.data):
        raise InputError(
            "not a clip (a video, or an animated GIF, WebP or PNG): "
            "post a still image to /v1/translate"
        )
    seconds = _max_seconds(upload.fields)
    return _start_clip_job(request, rid, upload.data, model, options, budget, seconds)


def _start_clip_job(
    request: web.Request,
    rid: str,
    data: bytes,
    model: str | None,
    options: TranslateOptions,
    budget: int | None,
    max_seconds: float | None,
) -> web.Response:
    """202 with a clip job for `data` (the job with this request id when it is the same)."""
    budget = budget or DEFAULT_BUDGET_BYTES
    digest = fingerprint(data, model, repr(options), str(budget), str(max_seconds))
    jobs = request.app[keys.CLIP_JOBS]
    known = jobs.get(rid)
    if known is not None and known.digest != digest:
        raise web.HTTPConflict(reason=f"request id {rid!r} was already used for another clip")
    job = known or jobs.start(rid, digest, data, model, options, budget, max_seconds)
    location = f"/v1/clips/{job.id}"
    return web.json_response(job.describe(), status=202, headers={"Location": location})


def _job(request: web.Request) -> ClipJob:
    job = request.app[keys.CLIP_JOBS].get(request.match_info["job_id"])
    return _found(job, "no such clip job (finished jobs are kept for a while)")


async def clip_status(request: web.Request) -> web.Response:
    """GET /v1/clips/{job_id}: state and progress."""
    return web.json_response(_job(request).describe())


async def clip_result(request: web.Request) -> web.StreamResponse:
    """GET /v1/clips/{job_id}/result: the MP4 or GIF once the job is done."""
    job = _job(request)
    if job.state != "done" or job.result is None:
        raise web.HTTPConflict(reason=f"the clip job is {job.state}")
    assert job.model is not None  # known before the work starts
    headers = {
        **model_headers(job.model),
        "X-Width": str(job.result.width),
        "X-Height": str(job.result.height),
        "Content-Type": "image/gif" if job.result.format == "gif" else "video/mp4",
    }
    return web.FileResponse(job.result.path, headers=headers)
