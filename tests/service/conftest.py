"""Fixtures: an engine service with tiny models, served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
import torch
from aiohttp.test_utils import TestServer

from engine.core import Engine
from engine.imaging import encode_image
from engine.models import ModelRegistry
from engine.pipeline import ImageTranslator
from engine.service import ServiceConfig, create_app
from engine.video import ClipLimits
from tests.conftest import make_clip

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
StartService = Callable[..., "Service"]


class Service:
    """A running service and a session authorised to call it."""

    def __init__(self, server: TestServer, session: aiohttp.ClientSession) -> None:
        self.server, self.session = server, session
        self.url = str(server.make_url("")).rstrip("/")
        self.app = server.app

    def form(self, data: bytes, field: str = "image", **fields: object) -> aiohttp.FormData:
        """A multipart form with one file part and text fields."""
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, str(value))
        form.add_field(field, data, filename="upload", content_type="application/octet-stream")
        return form


@pytest.fixture
def engine(make_model, tmp_path: Path) -> Engine:
    models = tmp_path / "models"
    make_model("tiny", directory=models)
    make_model("tiny", directory=models, version=2, seed=1)
    registry = ModelRegistry(models, bundled_dir=tmp_path / "none")
    return Engine(registry, torch.device("cpu"), batch_size=64, streams=1)  # one batch at a time


@pytest.fixture
async def start_service(engine: Engine) -> AsyncIterator[Callable[..., object]]:
    """Start services (same engine) with a given config; all are closed at the end."""
    started: list[tuple[TestServer, aiohttp.ClientSession]] = []

    async def start(
        datasets_dir: Path | None = None,
        runs_dir: Path | None = None,
        train_defaults: object = None,
        **overrides: object,
    ) -> Service:
        config = ServiceConfig(**{"token": TOKEN, "max_upload_bytes": 2_000_000, **overrides})  # type: ignore[arg-type]
        limits = ClipLimits(max_bytes=2_000_000, max_seconds=5)
        app = create_app(
            engine,
            config,
            limits,
            datasets_dir,
            runs_dir,
            train_defaults,  # type: ignore[arg-type]
        )
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        session = aiohttp.ClientSession(headers=AUTH, timeout=aiohttp.ClientTimeout(total=60))
        started.append((server, session))
        return Service(server, session)

    yield start
    for server, session in started:
        await session.close()
        await server.close()


@pytest.fixture
def two_streams(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> threading.Barrier:
    """The engine runs two generator calls at once, and each translation waits at this
    barrier for another: a test fails (a broken barrier) unless two calls overlap."""
    both_inside = threading.Barrier(2, timeout=20)
    original = ImageTranslator.translate

    def meet(self, images, options, states=None):
        both_inside.wait()
        return original(self, images, options, states)

    monkeypatch.setattr(ImageTranslator, "translate", meet)
    engine.streams = 2  # the model's runtime (OpenVINO here) runs two calls at once
    return both_inside


@pytest.fixture
async def service(start_service) -> Service:
    return await start_service()


@pytest.fixture
def png(photo) -> bytes:
    return encode_image(photo(96, 64), "png")


@pytest.fixture(scope="session")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A half-second 96x64 test clip (H.264)."""
    return make_clip(tmp_path_factory.mktemp("clip") / "in.mp4", 0.5, audio=False).read_bytes()


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `condition` every 10 ms; fail after `timeout` seconds."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)
