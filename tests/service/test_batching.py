"""Dynamic batching, the bounded queue, idempotent retries, and clip jobs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from engine.pipeline import ImageTranslator
from engine.service import keys
from tests.conftest import auto_cpu_runtime

from .conftest import Service, wait_until


@pytest.fixture
def generator_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Batch sizes of every ImageTranslator.translate call."""
    calls: list[int] = []
    original = ImageTranslator.translate

    def spy(self, images, options=None, *args):
        calls.append(len(images))
        return original(self, images, options, *args) if options else original(self, images)

    monkeypatch.setattr(ImageTranslator, "translate", spy)
    yield calls


async def _post(service: Service, png: bytes, request_id: str | None = None, **fields):
    headers = {"X-Request-Id": request_id} if request_id else {}
    async with service.session.post(
        f"{service.url}/v1/translate", data=service.form(png, **fields), headers=headers
    ) as response:
        return response.status, await response.read(), dict(response.headers)


async def _metrics(service: Service) -> str:
    async with service.session.get(f"{service.url}/metrics") as response:
        return await response.text()


async def test_concurrent_requests_share_one_generator_call(
    start_service, png: bytes, generator_calls: list[int]
) -> None:
    service = await start_service(max_batch=8, batch_wait_s=2.0)
    answers = await asyncio.gather(*(_post(service, png) for _ in range(8)))
    assert [status for status, _, _ in answers] == [200] * 8
    assert generator_calls == [8]
    text = await _metrics(service)
    assert "beautynet_batch_size_count 1\n" in text
    assert "beautynet_batch_size_sum 8.000000\n" in text


async def test_without_batching_each_request_runs_alone(
    start_service, png: bytes, generator_calls: list[int]
) -> None:
    service = await start_service(max_batch=1, batch_wait_s=0.0)
    answers = await asyncio.gather(*(_post(service, png) for _ in range(4)))
    assert [status for status, _, _ in answers] == [200] * 4
    assert generator_calls == [1, 1, 1, 1]


async def test_different_options_are_not_mixed(
    start_service, png: bytes, generator_calls: list[int]
) -> None:
    service = await start_service(max_batch=8, batch_wait_s=0.5)
    answers = await asyncio.gather(*(_post(service, png, panels=2 + i % 2) for i in range(6)))
    assert [status for status, _, _ in answers] == [200] * 6
    assert sorted(generator_calls) == [3, 3]


async def test_full_queue_answers_503_with_retry_after(
    start_service, png: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    original = ImageTranslator.translate

    def blocked(self, images, options, states=None):
        assert release.wait(30)
        return original(self, images, options, states)

    monkeypatch.setattr(ImageTranslator, "translate", blocked)
    service = await start_service(max_batch=1, batch_wait_s=0.0, queue_size=2)
    batcher = service.app[keys.BATCHER]
    running = asyncio.ensure_future(_post(service, png))
    await wait_until(lambda: batcher.metrics.batch_size.count() == 1)  # in the network
    waiting = [asyncio.ensure_future(_post(service, png)) for _ in range(2)]
    await wait_until(lambda: batcher.pending == 2)
    status, body, headers = await _post(service, png)
    assert status == 503 and headers["Retry-After"] == "1"
    assert b"busy" in body
    release.set()
    finished = await asyncio.wait_for(asyncio.gather(running, *waiting), 30)
    assert [answer[0] for answer in finished] == [200, 200, 200]


async def test_same_request_id_runs_once(
    service: Service, png: bytes, generator_calls: list[int]
) -> None:
    first, second = await asyncio.gather(_post(service, png, "req-1"), _post(service, png, "req-1"))
    third = await _post(service, png, "req-1")
    assert first[0] == second[0] == third[0] == 200
    assert first[1] == second[1] == third[1]
    assert sum(generator_calls) == 1
    assert service.app[keys.IDEMPOTENCY].runs == 1
    other = await _post(service, png, "req-2")
    assert other[0] == 200 and sum(generator_calls) == 2


async def test_reused_request_id_with_another_body_is_a_conflict(
    service: Service, png: bytes
) -> None:
    assert (await _post(service, png, "req-3"))[0] == 200
    status, body, _ = await _post(service, png, "req-3", panels=3)
    assert status == 409 and b"already used" in body


async def test_failed_request_can_be_retried_with_the_same_id(service: Service) -> None:
    assert (await _post(service, b"not an image", "req-4"))[0] == 400
    assert (await _post(service, b"not an image", "req-4"))[0] == 400
    assert service.app[keys.IDEMPOTENCY].runs == 2


async def test_clip_job_progress_and_result(service: Service, clip_bytes: bytes) -> None:
    form = service.form(clip_bytes, "clip", budget_bytes=1_000_000)
    headers = {"X-Request-Id": "clip-1"}
    async with service.session.post(
        f"{service.url}/v1/clips", data=form, headers=headers
    ) as response:
        assert response.status == 202
        location = response.headers["Location"]
    assert location == "/v1/clips/clip-1"

    async def state() -> dict:
        async with service.session.get(f"{service.url}{location}") as response:
            return await response.json()

    async def finished() -> dict:
        while (job := await state())["state"] == "running":
            await asyncio.sleep(0.05)
        return job

    job = await asyncio.wait_for(finished(), 60)
    assert job["state"] == "done" and job["done"] == job["total"] > 0
    assert (job["model_name"], job["model_version"]) == ("tiny", 1)
    async with service.session.get(f"{service.url}{location}/result") as response:
        assert response.status == 200 and response.headers["X-Model"] == "tiny v1"
        data = await response.read()
    assert data[4:8] == b"ftyp" and len(data) <= 1_000_000
    # the same request id again: the same job, not a second run
    again = service.form(clip_bytes, "clip", budget_bytes=1_000_000)
    async with service.session.post(
        f"{service.url}/v1/clips", data=again, headers=headers
    ) as response:
        assert response.status == 202 and (await response.json())["state"] == "done"


async def test_clip_garbage_fails_with_a_reason(service: Service) -> None:
    async with service.session.post(
        f"{service.url}/v1/clips", data=service.form(b"not a video", "clip")
    ) as response:  # not a clip by the one rule: refused at the door
        assert response.status == 400 and "not a clip" in (await response.json())["error"]
    corrupt = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8  # a clip's head, then junk
    form = service.form(corrupt, "clip")
    async with service.session.post(f"{service.url}/v1/clips", data=form) as response:
        location = response.headers["Location"]
    jobs = service.app[keys.CLIP_JOBS]
    await wait_until(lambda: jobs.get(location.rsplit("/", 1)[1]).state != "running")
    async with service.session.get(f"{service.url}{location}") as response:
        job = await response.json()
    assert job["state"] == "failed" and job["error"] and job["error"] != "internal error"
    async with service.session.get(f"{service.url}{location}/result") as response:
        assert response.status == 409


async def test_unknown_clip_job_is_404(service: Service) -> None:
    async with service.session.get(f"{service.url}/v1/clips/nope") as response:
        assert response.status == 404


async def test_healthz_and_metrics_say_how_each_loaded_model_runs(
    service: Service, png: bytes
) -> None:
    assert (await _post(service, png))[0] == 200  # loads the default model
    async with service.session.get(f"{service.url}/healthz") as response:
        runtimes = (await response.json())["runtimes"]
    runtime = auto_cpu_runtime()  # this CPU's: its real runtime runs in the service
    assert runtimes == {"tiny v1": f"{runtime}, batch 64"}
    labels = f'batch="64",model="tiny v1",runtime="{runtime}",streams="1"'
    line = f"beautynet_runtime_info{{{labels}}} 1"
    metrics = await _metrics(service)
    assert line in metrics
    assert 'beautynet_runtime_slowdown{model="tiny v1"} 1' in metrics  # not slow, nor measured


async def test_two_streams_run_two_batches_at_once(start_service, two_streams, png: bytes) -> None:
    service = await start_service(max_batch=1, batch_wait_s=0.0)
    answers = await asyncio.gather(_post(service, png), _post(service, png))
    assert [status for status, _, _ in answers] == [200, 200]
    assert service.app[keys.ENGINE].runtimes()["tiny v1"].streams == 2
