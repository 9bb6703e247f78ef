"""URL map of the engine service."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from . import live, views

STATIC_DIR = Path(__file__).parent / "static"


async def page(request: web.Request) -> web.FileResponse:
    """The web page: photos, clips and the live camera (security headers: `middlewares`)."""
    return web.FileResponse(STATIC_DIR / "index.html")


def setup_routes(app: web.Application) -> None:
    """Register every endpoint on `app`."""
    app.router.add_get("/", page)
    app.router.add_static("/static/", STATIC_DIR)
    app.router.add_get("/healthz", views.healthz)
    app.router.add_get("/metrics", views.metrics)
    app.router.add_get("/openapi.json", views.openapi)
    app.router.add_get("/v1/models", views.models)
    app.router.add_get("/v1/models/{name}/{version}/sample.png", views.sample_sheet)
    app.router.add_post("/v1/models/{name}/promote", views.promote)
    app.router.add_post("/v1/models/{name}/rollback", views.rollback)
    app.router.add_delete("/v1/models/{name}/{version}", views.delete_model)
    app.router.add_get("/v1/datasets", views.datasets)
    app.router.add_post("/v1/datasets/{name}/images", views.add_images)
    app.router.add_post("/v1/trainings", views.start_training)
    app.router.add_get("/v1/trainings/{job_id}", views.training_status)
    app.router.add_get("/v1/trainings/{job_id}/sample.png", views.training_sheet)
    app.router.add_post("/v1/trainings/{job_id}/stop", views.stop_training)
    app.router.add_post("/v1/translate", views.translate)
    app.router.add_post("/v1/compare", views.compare)
    app.router.add_post("/v1/clips", views.start_clip)
    app.router.add_get("/v1/clips/{job_id}", views.clip_status)
    app.router.add_get("/v1/clips/{job_id}/result", views.clip_result)
    app.router.add_get("/v1/live", live.live)
