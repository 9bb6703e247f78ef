"""HttpEngine: the bot's client of engine services (routing, failover, retries, errors)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bench.load import free_port, wait_healthy
from bot.engine_client import (
    EngineClient,
    EngineUnavailableError,
    EngineUserError,
    ModelId,
    TranslateParams,
)
from bot.engine_client.http import HttpEngine
from engine.imaging import decode_image
from engine.pipeline import ImageTranslator
from engine.service import keys
from tests.conftest import GIF_DURATIONS, animation, auto_cpu_runtime, encoded, photo_like

from .conftest import TOKEN, Service, wait_until


async def test_opens_nothing_until_its_owner_starts_it(service: Service) -> None:
    client = HttpEngine([service.url], TOKEN)
    with pytest.raises(RuntimeError, match="start"):
        await client.models()  # no session was opened behind the owner's back
    assert await client.start() is client
    try:
        assert [m.name for m in await client.models()]
        health = client._health_task
        assert health is not None and not health.done()
    finally:
        await client.close()
    assert health.done()  # closed by its owner, with the session


def test_is_an_engine_client() -> None:
    client: EngineClient = HttpEngine(["http://127.0.0.1:1"], TOKEN)
    assert isinstance(client, HttpEngine)


async def test_translate_image_and_models(service: Service, png: bytes) -> None:
    client = await HttpEngine([service.url], TOKEN).start()
    try:
        result = await client.translate(png, TranslateParams(model="tiny@2"), "h1")
        listed = await client.models()
        runtimes = await client.runtimes()
    finally:
        await client.close()
    assert runtimes == [f"{service.url}: tiny v2 on {auto_cpu_runtime()}, batch 64"]
    assert result.kind == "image" and result.model == ModelId("tiny", 2)
    assert decode_image(result.data).size == (result.width, result.height)
    assert result.panel == (64, 43)  # the interpretation's size, which the result line says
    assert [(m.name, m.version, m.served) for m in listed] == [
        ("tiny", 1, True),
        ("tiny", 2, False),
    ]


async def test_user_errors_are_engine_user_errors(service: Service, png: bytes) -> None:
    client = await HttpEngine([service.url], TOKEN).start()
    try:
        with pytest.raises(EngineUserError, match="not an image"):
            await client.translate(b"not an image", TranslateParams(), "h2")
        with pytest.raises(EngineUserError, match="no model called"):
            await client.translate(png, TranslateParams(model="nope"), "h3")
    finally:
        await client.close()


async def test_wrong_token_is_an_internal_error(service: Service, png: bytes) -> None:
    client = await HttpEngine([service.url], "wrong").start()
    try:
        with pytest.raises(RuntimeError, match="refused ENGINE_TOKEN"):
            await client.translate(png, TranslateParams(), "h4")
    finally:
        await client.close()


async def test_least_loaded_engine_gets_the_call(start_service, png: bytes) -> None:
    first, second = await start_service(), await start_service()
    client = await HttpEngine([first.url, second.url], TOKEN).start()
    client.backends[0].in_flight = 5  # pretend the first engine is busy
    try:
        await client.translate(png, TranslateParams(), "h5")
    finally:
        await client.close()
    assert first.app[keys.IDEMPOTENCY].runs == 0
    assert second.app[keys.IDEMPOTENCY].runs == 1


async def test_down_engine_fails_over_and_health_check_brings_it_back(
    start_service, png: bytes
) -> None:
    alive = await start_service()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = await HttpEngine([dead_url, alive.url], TOKEN, health_interval_s=3600).start()
    try:
        result = await client.translate(png, TranslateParams(), "h6")
        assert result.model == ModelId("tiny", 1)
        assert not client.backends[0].healthy and client.backends[1].healthy
        client.backends[0].url = alive.url  # "restarted" at the same place
        await client.check_health()
        assert client.backends[0].healthy
    finally:
        await client.close()


async def test_all_engines_down_is_unavailable(png: bytes) -> None:
    client = await HttpEngine(["http://127.0.0.1:9"], TOKEN).start()
    try:
        with pytest.raises(EngineUnavailableError):
            await client.translate(png, TranslateParams(), "h7")
    finally:
        await client.close()


async def test_busy_engine_is_unavailable_with_retry_after(
    start_service, png: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    original = ImageTranslator.translate

    def blocked(self, images, options, states=None):
        assert release.wait(30)
        return original(self, images, options, states)

    monkeypatch.setattr(ImageTranslator, "translate", blocked)
    service = await start_service(max_batch=1, batch_wait_s=0.0, queue_size=1)
    client = await HttpEngine([service.url], TOKEN, rounds=1).start()
    try:
        running = asyncio.ensure_future(client.translate(png, TranslateParams(), "b1"))
        batcher = service.app[keys.BATCHER]
        await wait_until(lambda: batcher.metrics.batch_size.count() == 1)
        waiting = asyncio.ensure_future(client.translate(png, TranslateParams(), "b2"))
        await wait_until(lambda: batcher.pending == 1)
        with pytest.raises(EngineUnavailableError) as caught:
            await client.translate(png, TranslateParams(), "b3")
        assert caught.value.retry_after_s == 1
        release.set()
        await asyncio.wait_for(asyncio.gather(running, waiting), 30)
    finally:
        release.set()
        await client.close()


async def test_timed_out_call_is_retried_without_running_twice(
    start_service, png: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    original = ImageTranslator.translate

    def slow(self, images, options, states=None):
        assert release.wait(30)
        return original(self, images, options, states)

    monkeypatch.setattr(ImageTranslator, "translate", slow)
    service = await start_service()
    client = await HttpEngine([service.url], TOKEN, timeout_s=0.5, rounds=20).start()
    try:
        call = asyncio.ensure_future(client.translate(png, TranslateParams(), "t1"))
        await asyncio.sleep(1.2)  # at least two attempts have timed out by now
        patient = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30), headers={"Authorization": f"Bearer {TOKEN}"}
        )
        client._session, old = patient, client._session  # the next attempt waits long enough
        assert old is not None
        await old.close()
        release.set()
        result = await asyncio.wait_for(call, 30)
    finally:
        release.set()
        await client.close()
    assert result.model == ModelId("tiny", 1)
    assert service.app[keys.IDEMPOTENCY].runs == 1


async def test_clip_through_http(service: Service, clip_bytes: bytes) -> None:
    client = await HttpEngine([service.url], TOKEN, poll_interval_s=0.05).start()
    calls: list[tuple[int, int]] = []
    try:
        result = await client.translate(
            clip_bytes, TranslateParams(), "c1", 1_000_000, lambda d, t: calls.append((d, t))
        )
        with pytest.raises(EngineUserError):
            await client.translate(b"not a video", TranslateParams(), "c2", 1_000_000)
    finally:
        await client.close()
    assert (
        result.kind == "clip" and result.data[4:8] == b"ftyp" and result.model == ModelId("tiny", 1)
    )
    assert calls and calls[-1][0] == calls[-1][1]


async def test_an_animated_gif_through_http_comes_back_a_gif(service: Service) -> None:
    """The bot's HTTP client asks no rule of its own: the engine tells it a clip came."""
    client = await HttpEngine([service.url], TOKEN, poll_interval_s=0.05).start()
    try:
        result = await client.translate(animation(), TranslateParams(), "g1", 1_000_000)
        grid = await client.compare(png_of(), ["tiny@1", "tiny@2"], "g2", 1_000_000)
    finally:
        await client.close()
    assert result.kind == "clip" and result.filename == "beautynet.gif"
    assert result.data.startswith(b"GIF89a") and result.duration_s == sum(GIF_DURATIONS) / 1000
    assert grid.filename == "compare.png" and grid.model is None and grid.data[1:4] == b"PNG"


def png_of() -> bytes:
    return encoded(photo_like())


# ---- two real engine processes, one killed mid-way --------------------------------------
@pytest.fixture
async def two_engines(data_dir: Path) -> AsyncIterator[list[tuple[str, subprocess.Popen]]]:
    env = {**os.environ, "ENGINE_TOKEN": TOKEN}
    engines = []
    for _ in range(2):
        port = free_port()
        command = [sys.executable, "-m", "beautynet", "engine", "serve", "--port", str(port)]
        process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        engines.append((f"http://127.0.0.1:{port}", process))
    try:
        for url, process in engines:
            await wait_healthy(url, process, timeout_s=60)
        yield engines
    finally:
        for _, process in engines:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=30)


async def test_engine_killed_mid_way_loses_no_request(
    two_engines: list[tuple[str, subprocess.Popen]], png: bytes
) -> None:
    (url_a, process_a), (url_b, _) = two_engines
    client = await HttpEngine([url_a, url_b], TOKEN, health_interval_s=3600).start()
    count, answered = 40, []
    try:

        async def one(i: int) -> None:
            result = await client.translate(png, TranslateParams("tiny"), f"kill-{i}")
            answered.append((i, decode_image(result.data).size))

        tasks = [asyncio.ensure_future(one(i)) for i in range(count)]
        await wait_until(lambda: len(answered) >= 2, timeout=60)
        in_flight_at_a = client.backends[0].in_flight
        process_a.send_signal(signal.SIGKILL)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
    finally:
        await client.close()
    assert in_flight_at_a > 0  # the kill did interrupt requests
    assert sorted(i for i, _ in answered) == list(range(count))  # each answered exactly once
    assert process_a.wait(timeout=10) == -signal.SIGKILL
    assert not client.backends[0].healthy and client.backends[1].healthy


def test_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from beautynet.components.bot import http_engine_from_settings
    from infra.settings import Settings

    monkeypatch.delenv("ENGINE_URLS", raising=False)
    assert http_engine_from_settings(Settings(_env_file=None)) is None
    monkeypatch.setenv("ENGINE_URLS", "http://a:8765/, http://b:8765")
    monkeypatch.setenv("ENGINE_TOKEN", TOKEN)
    client = http_engine_from_settings(Settings(_env_file=None))
    assert client is not None
    assert [b.url for b in client.backends] == ["http://a:8765", "http://b:8765"]
    assert client._headers == {"Authorization": f"Bearer {TOKEN}"}
    monkeypatch.setenv("ENGINE_URLS", "a:8765")
    with pytest.raises(ValueError, match="http"):
        Settings(_env_file=None)


async def test_model_admin_through_any_engine(
    make_model, tmp_path: Path, start_service, png: bytes
) -> None:
    from bot.engine_client.admin import ModelAdmin

    first, second = await start_service(), await start_service()  # one shared models folder
    client = await HttpEngine([first.url, second.url], TOKEN).start()
    assert isinstance(client, ModelAdmin)
    try:
        assert await client.promote("tiny", 2) == "tiny v2"
        result = await client.translate(png, TranslateParams(model="tiny"), "a1")
        assert result.model == ModelId("tiny", 2)  # the promotion is seen at once
        with pytest.raises(EngineUserError, match="being served"):
            await client.delete("tiny", 2)
        with pytest.raises(EngineUserError, match="no model called"):
            await client.promote("nope")
        assert await client.rollback("tiny") == "tiny v1"
        await client.delete("tiny", 2)
        assert [(m.name, m.version) for m in await client.models()] == [("tiny", 1)]
    finally:
        await client.close()


async def test_datasets_over_http(start_service, tmp_path: Path, photo) -> None:
    from bot.engine_client.admin import DatasetAdmin
    from engine.imaging import encode_image

    service = await start_service(datasets_dir=tmp_path / "datasets")
    client = await HttpEngine([service.url], TOKEN).start()
    assert isinstance(client, DatasetAdmin)
    one, two = encode_image(photo(80, 60, seed=1)), encode_image(photo(80, 60, seed=2))
    files = [("a.png", one), ("b.png", two), ("c.png", one), ("d.txt", b"not an image")]
    try:
        report = await client.add_images("flowers", files)
        listed = await client.datasets()
    finally:
        await client.close()
    assert (report.name, report.added, report.duplicates, report.total_images) == (
        "flowers",
        2,
        1,
        2,
    )
    assert [source for source, _ in report.rejected] == ["d.txt"]
    assert [(d.name, d.images) for d in listed] == [("flowers", 2)]


async def test_datasets_not_configured_is_a_user_error(service: Service) -> None:
    client = await HttpEngine([service.url], TOKEN).start()
    try:
        with pytest.raises(EngineUserError, match="not configured"):
            await client.datasets()
    finally:
        await client.close()


@pytest.fixture
async def trainer(start_service, tmp_path: Path, photo):
    """An HttpEngine on a service that trains tiny models quickly, with a 4-image dataset."""
    from engine.imaging import encode_image
    from engine.training import TrainDefaults

    def start(epochs: int):
        return start_service(
            datasets_dir=tmp_path / "datasets",
            runs_dir=tmp_path / "runs",
            train_defaults=TrainDefaults(ngf=4, ndf=4, size=64, epochs=epochs, epoch_samples=2),
        )

    async def make(epochs: int = 1) -> HttpEngine:
        service = await start(epochs)
        client = await HttpEngine([service.url], TOKEN, poll_interval_s=0.05).start()
        files = [(f"{i}.png", encode_image(photo(96, 96, seed=i))) for i in range(4)]
        await client.add_images("flowers", files)
        clients.append(client)
        return client

    clients: list[HttpEngine] = []
    yield make
    for client in clients:
        await client.close()


async def test_training_over_http(trainer) -> None:
    from bot.engine_client.admin import TrainingAdmin, TrainRequest

    client = await trainer(epochs=1)
    assert isinstance(client, TrainingAdmin)
    updates = []
    done = await asyncio.wait_for(
        client.train(TrainRequest("flowers", "grown"), updates.append, threading.Event()), 120
    )
    assert done.status == "finished" and done.model == "grown v1"
    assert done.version == 1 and set(done.metrics) == {"l1", "psnr", "ssim"}  # for the bot's record
    assert updates and updates[-1].step > 0
    assert "grown" in {m.name for m in await client.models()}
    with pytest.raises(EngineUserError, match="dataset"):
        await client.train(TrainRequest("nope", "x"), updates.append, threading.Event())


async def test_training_can_be_stopped(trainer) -> None:
    from bot.engine_client.admin import TrainRequest

    client = await trainer(epochs=10_000)
    stop = threading.Event()

    def progress(status) -> None:
        if status.step >= 2:
            stop.set()

    done = await asyncio.wait_for(client.train(TrainRequest("flowers", "x"), progress, stop), 120)
    assert done.status == "cancelled"  # the trainer's word for a stopped run
    assert done.version is None


async def test_check_training_asks_the_engines_door_and_starts_nothing(
    start_service, tmp_path: Path, png: bytes
) -> None:
    from bot.engine_client.admin import TrainRequest

    runs = tmp_path / "runs"
    service = await start_service(datasets_dir=tmp_path / "datasets", runs_dir=runs)
    client = await HttpEngine([service.url], TOKEN).start()
    try:
        await client.add_images("garden", [("a.png", png)])
        await client.check_training(TrainRequest("garden", "blooms"))
        with pytest.raises(EngineUserError, match="model name must be 1-64"):
            await client.check_training(TrainRequest("garden", "../../escape"))
        with pytest.raises(EngineUserError, match="no dataset named"):
            await client.check_training(TrainRequest("nope", "blooms"))
    finally:
        await client.close()
    assert not runs.exists() or not any(runs.iterdir())
    assert service.app[keys.TRAIN_JOBS].get("x") is None
