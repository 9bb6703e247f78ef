"""InProcessEngine: the embedded EngineClient runs the engine off the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest
import torch

from bot.engine_client import EngineClient, EngineUserError, ModelId, TranslateParams
from bot.engine_client.inprocess import InProcessEngine
from engine.core import Engine
from engine.imaging import decode_image, encode_image
from engine.models import ModelRegistry
from engine.segment import EdgesConfig
from tests.conftest import auto_cpu_runtime, make_clip

CPU = torch.device("cpu")


@pytest.fixture
async def client(make_model, tmp_path: Path):
    models = tmp_path / "models"
    make_model("tiny", directory=models)
    make_model("tiny", directory=models, version=2, seed=1)
    make_model("lines", EdgesConfig(), directory=models)
    engine = Engine(ModelRegistry(models, bundled_dir=tmp_path / "none"), CPU)
    client = InProcessEngine(engine)
    yield client
    await client.close()


def test_is_an_engine_client(client: InProcessEngine) -> None:
    checked: EngineClient = client  # mypy checks the protocol; this checks the import
    assert checked is client


async def test_translate_image_runs_in_a_worker_thread(
    client: InProcessEngine, photo, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    original = client.engine.translator

    def spy(model: str | None = None):
        threads.append(threading.current_thread().name)
        return original(model)

    monkeypatch.setattr(client.engine, "translator", spy)
    result = await client.translate(
        encode_image(photo(100, 50)), TranslateParams(model="tiny@1", panels=3), "r1"
    )
    assert threads and threads[0] != threading.current_thread().name
    assert threads[0].startswith("engine")
    assert result.kind == "image" and result.model == ModelId("tiny", 1)
    assert decode_image(result.data).size == (result.width, result.height) == (3 * 64 + 8, 32)


async def test_event_loop_keeps_running_during_work(client: InProcessEngine, photo) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await client.translate(encode_image(photo(400, 300)), TranslateParams(), "r2")
    task.cancel()
    assert ticks > 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (TranslateParams(model="nope"), "no model called 'nope'"),
        (TranslateParams(model="tiny@9"), "has no version 9"),
        (TranslateParams(model="lines", k=3), "k applies only to clusters models"),
        (TranslateParams(size=5), "size must be between"),
    ],
)
async def test_bad_requests_are_user_errors(
    client: InProcessEngine, photo, params: TranslateParams, message: str
) -> None:
    with pytest.raises(EngineUserError, match=message):
        await client.translate(encode_image(photo()), params, "r3")


async def test_bad_files_are_user_errors(client: InProcessEngine, bad_inputs) -> None:
    for content, message in bad_inputs.values():
        with pytest.raises(EngineUserError, match=message):
            await client.translate(content, TranslateParams(), "r4")


async def test_models_lists_every_version(client: InProcessEngine) -> None:
    infos = {(m.name, m.version): m for m in await client.models()}
    assert set(infos) == {("tiny", 1), ("tiny", 2), ("lines", 1)}
    assert infos["lines", 1].segmenter == "edges"
    assert infos["tiny", 1].segmenter == "clusters k=7"
    assert infos["tiny", 1].served and not infos["tiny", 2].served
    await client.promote("tiny", 2)
    infos = {(m.name, m.version): m for m in await client.models()}
    assert infos["tiny", 2].served and infos["tiny", 2].default
    assert not infos["lines", 1].default


async def test_admin_errors_are_user_errors(client: InProcessEngine) -> None:
    with pytest.raises(EngineUserError, match="no promotion to roll back"):
        await client.rollback("tiny")
    await client.delete("tiny", 2)
    assert ("tiny", 2) not in {(m.name, m.version) for m in await client.models()}


async def test_translate_clip_with_progress(client: InProcessEngine, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", 0.5, audio=False)
    calls: list[tuple[int, int]] = []
    result = await client.translate(
        clip.read_bytes(), TranslateParams(), "r5", 2_000_000, lambda d, t: calls.append((d, t))
    )
    assert result.kind == "clip" and result.filename.endswith(".mp4")
    assert result.data[4:8] == b"ftyp" and len(result.data) <= 2_000_000
    assert calls and calls[-1][0] == calls[-1][1]


async def test_clip_garbage_is_a_user_error(client: InProcessEngine) -> None:
    with pytest.raises(EngineUserError):
        await client.translate(b"not a video", TranslateParams(), "r6", 1_000_000)


async def test_start_loads_the_default_model_in_the_background(
    client: InProcessEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.engine_client.inprocess")
    assert await client.runtimes() == []
    assert await client.start() is client
    for _ in range(200):  # the worker loads it while the bot would be connecting
        if "engine runtime:" in caplog.text:  # logged once loaded
            break
        await asyncio.sleep(0.05)
    (loaded,) = await client.runtimes()
    runtime = auto_cpu_runtime()
    assert loaded.startswith(f"lines v1 on {runtime}, batch ")  # the first name: default
    assert f"engine runtime: lines v1 on {runtime}" in caplog.text
