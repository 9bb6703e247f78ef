"""Every endpoint of the engine service, its auth, limits and errors."""

from __future__ import annotations

import asyncio
import io
import re

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from engine.imaging import decode_image
from tests.conftest import GIF_DURATIONS, animation, encoded

from .conftest import AUTH, TOKEN, Service


async def test_healthz_needs_no_token(service: Service) -> None:
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(f"{service.url}/healthz") as response,
    ):
        assert response.status == 200
        assert (await response.json())["status"] == "ok"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
)
async def test_requests_without_the_token_are_refused(service: Service, headers) -> None:
    async with aiohttp.ClientSession() as anonymous:
        for path in ("/v1/models", "/metrics"):
            async with anonymous.get(f"{service.url}{path}", headers=headers) as response:
                assert response.status == 401
                assert response.headers["WWW-Authenticate"] == "Bearer"
                assert "token" in (await response.json())["error"]


async def test_translate_returns_a_png_and_headers(service: Service, png: bytes) -> None:
    form = service.form(png, model="tiny@1", panels=3)
    async with service.session.post(f"{service.url}/v1/translate", data=form) as response:
        assert response.status == 200, await response.text()
        body = await response.read()
        assert response.headers["X-Model"] == "tiny v1"
        assert (response.headers["X-Model-Name"], response.headers["X-Model-Version"]) == (
            "tiny",
            "1",
        )  # as fields: nobody parses the label
        width, height = int(response.headers["X-Width"]), int(response.headers["X-Height"])
        assert response.headers["X-Panel-Size"] == "64x43"  # the interpretation alone
    assert decode_image(body).size == (width, height) == (3 * 64 + 8, 43)


@pytest.mark.parametrize(
    ("fields", "status", "fragment"),
    [
        ({"model": "nope"}, 404, "no model called"),
        ({"panels": 4}, 400, "panels"),
        ({"k": "seven"}, 400, "whole number"),
        ({"size": 10}, 400, "size"),
    ],
)
async def test_bad_parameters(service: Service, png: bytes, fields, status, fragment) -> None:
    form = service.form(png, **fields)
    async with service.session.post(f"{service.url}/v1/translate", data=form) as response:
        assert response.status == status
        assert fragment in (await response.json())["error"]


async def test_not_an_image_is_a_clear_400(service: Service) -> None:
    form = service.form(b"this is not an image at all\n")
    async with service.session.post(f"{service.url}/v1/translate", data=form) as response:
        assert response.status == 400
        assert "not an image" in (await response.json())["error"]


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        (b"plain", "text/plain", "multipart/form-data"),
        (b"--x\r\nno headers end", "multipart/form-data; boundary=x", "malformed"),
        (b"garbage", "multipart/form-data", "malformed"),
    ],
)
async def test_malformed_multipart_is_a_400(
    service: Service, body: bytes, content_type: str, fragment: str
) -> None:
    headers = {"Content-Type": content_type}
    async with service.session.post(
        f"{service.url}/v1/translate", data=body, headers=headers
    ) as response:
        assert response.status == 400
        assert fragment in (await response.json())["error"]


async def test_form_without_the_file_part_is_a_400(service: Service) -> None:
    form = aiohttp.FormData({"model": "tiny"})
    form.add_field("other", b"x", filename="x")
    async with service.session.post(f"{service.url}/v1/translate", data=form) as response:
        assert response.status == 400
        assert "'image'" in (await response.json())["error"]


@pytest.mark.parametrize("path", ["/v1/translate", "/v1/clips"])
async def test_a_file_in_the_wrong_field_is_a_400_that_names_the_right_one(
    service: Service, png: bytes, path: str
) -> None:
    """`curl -F file=@photo.jpg`: the photo is larger than a text field, yet not a 413."""
    form = service.form(png + b"\0" * 4096, "file")
    async with service.session.post(f"{service.url}{path}", data=form) as response:
        assert response.status == 400
        expected = path.rsplit("/", 1)[1].replace("translate", "image").rstrip("s")
        assert (await response.json())["error"] == (
            f"the file goes in the form field {expected!r}, not 'file'"
        )


async def _follow(service: Service, job: dict) -> tuple[dict, bytes, str]:
    """A clip job followed to its end: its last state, its result and that's content type."""
    path = f"{service.url}/v1/clips/{job['id']}"
    for _ in range(600):
        async with service.session.get(path) as response:
            job = await response.json()
        if job["state"] != "running":
            break
        await asyncio.sleep(0.05)
    assert job["state"] == "done", job
    async with service.session.get(f"{path}/result") as response:
        return job, await response.read(), response.content_type


async def test_a_clip_sent_to_translate_becomes_a_clip_job(
    service: Service, clip_bytes: bytes
) -> None:
    """One door for any media: the engine's rule tells a clip from a still image."""
    form = service.form(clip_bytes)
    async with service.session.post(f"{service.url}/v1/translate", data=form) as response:
        assert response.status == 202
        job, data, content_type = await _follow(service, await response.json())
    assert job["format"] == "mp4" and content_type == "video/mp4" and data[4:8] == b"ftyp"


@pytest.mark.parametrize("path", ["/v1/translate", "/v1/clips"])
async def test_an_animated_gif_is_a_clip_answered_with_a_gif(service: Service, path: str) -> None:
    field = "clip" if path == "/v1/clips" else "image"
    form = service.form(animation(), field)
    async with service.session.post(f"{service.url}{path}", data=form) as response:
        assert response.status == 202
        job, data, content_type = await _follow(service, await response.json())
    assert job["format"] == "gif" and content_type == "image/gif"
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.n_frames == len(GIF_DURATIONS) == job["frames"]
    assert job["duration"] == sum(GIF_DURATIONS) / 1000


async def test_a_gif_over_its_budget_comes_back_as_an_mp4(service: Service) -> None:
    form = service.form(animation(size=(96, 96)), budget_bytes=65536, size=512)
    async with service.session.post(f"{service.url}/v1/translate", data=form) as response:
        job, data, content_type = await _follow(service, await response.json())
    assert job["format"] == "mp4" and content_type == "video/mp4" and len(data) <= 65536
    assert "as a GIF it would be" in job["format_note"]


async def test_a_still_image_sent_as_a_clip_is_told_where_it_goes(
    service: Service, png: bytes
) -> None:
    still_gif = encoded(Image.open(io.BytesIO(png)), "GIF")
    async with service.session.post(
        f"{service.url}/v1/clips", data=service.form(still_gif, "clip")
    ) as response:
        assert response.status == 400
        assert "post a still image to /v1/translate" in (await response.json())["error"]


async def test_an_image_is_fitted_to_its_budget(service: Service, photo) -> None:
    big = encoded(photo(640, 480))
    form = service.form(big, size=512)
    async with service.session.post(f"{service.url}/v1/translate", data=form) as response:
        full = await response.read()
    budget = len(full) // 2
    form = service.form(big, size=512, budget_bytes=budget)
    async with service.session.post(f"{service.url}/v1/translate", data=form) as response:
        assert response.status == 200 and response.headers["X-Quality-Reduced"] == "1"
        assert "resolution lowered" in response.headers["X-Notes"]
        assert len(await response.read()) <= budget


async def test_compare_draws_one_grid(service: Service, png: bytes) -> None:
    form = service.form(png, models="tiny@1,tiny@2")
    async with service.session.post(f"{service.url}/v1/compare", data=form) as response:
        assert response.status == 200 and response.headers["X-Models"] == "tiny@1,tiny@2"
        grid = Image.open(io.BytesIO(await response.read()))
    assert grid.height > 2 * int(response.headers["X-Height"]) // 3


async def _raw_request(service: Service, head: bytes, body: bytes) -> bytes:
    """Send a request's head and part of a body; return the answer read so far."""
    server = service.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(head + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(4096), timeout=10)
    finally:
        writer.close()


async def test_oversize_upload_refused_from_its_declared_length(service: Service) -> None:
    head = (
        b"POST /v1/translate HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {TOKEN}\r\n".encode()
        + b"Content-Type: multipart/form-data; boundary=b\r\n"
        + b"Content-Length: 500000000\r\n\r\n"
    )
    # only 1 KiB of the declared 500 MB is ever sent: the answer cannot wait for the rest
    answer = await _raw_request(service, head, b"x" * 1024)
    assert answer.startswith(b"HTTP/1.1 413")


async def test_oversize_streamed_upload_refused_at_the_limit(service: Service) -> None:
    head = (
        b"POST /v1/translate HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {TOKEN}\r\n".encode()
        + b"Content-Type: multipart/form-data; boundary=b\r\n"
        + b"Transfer-Encoding: chunked\r\n\r\n"
    )
    part = b'--b\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n\r\n'
    chunk = b"y" * 100_000
    body = b"%x\r\n%s\r\n" % (len(part), part)
    body += b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(25))  # 2.5 MB
    # the chunked body never ends: only the limit can stop the server reading
    answer = await _raw_request(service, head, body)
    assert answer.startswith(b"HTTP/1.1 413")


async def test_models_lists_versions(service: Service) -> None:
    async with service.session.get(f"{service.url}/v1/models") as response:
        assert response.status == 200
        listed = (await response.json())["models"]
    assert [(m["name"], m["version"], m["served"]) for m in listed] == [
        ("tiny", 1, True),
        ("tiny", 2, False),
    ]
    assert listed[0]["segmenter"] == "clusters k=7" and listed[0]["default"]


async def test_sample_sheet_missing_is_404(service: Service) -> None:
    async with service.session.get(f"{service.url}/v1/models/tiny/1/sample.png") as response:
        assert response.status == 404


async def test_openapi_lists_every_route(service: Service) -> None:
    async with service.session.get(f"{service.url}/openapi.json") as response:
        document = await response.json()
    documented = set(document["paths"])
    resources = [r.resource for r in service.app.router.routes() if r.resource]
    # The page's scripts and styles are files, not API operations.
    routed = {r.canonical for r in resources if not isinstance(r, web.StaticResource)}
    assert documented == routed
    assert "/static" in {r.canonical for r in resources}


async def test_metrics_are_prometheus_text(service: Service, png: bytes) -> None:
    async with service.session.post(
        f"{service.url}/v1/translate", data=service.form(png)
    ) as response:
        assert response.status == 200
    async with service.session.get(f"{service.url}/metrics") as response:
        assert response.content_type == "text/plain"
        text = await response.text()
    assert 'beautynet_requests_total{route="/v1/translate",status="200"} 1' in text
    assert "beautynet_queue_depth 0" in text
    for stage in ("decode", "queue", "translate", "encode", "total"):
        assert re.search(rf'beautynet_stage_seconds_count{{stage="{stage}"}} 1\n', text)
    assert "beautynet_batch_size_count 1" in text
    assert "beautynet_gpu_memory_bytes" in text


async def test_unknown_path_is_a_json_404(service: Service) -> None:
    async with service.session.get(f"{service.url}/nope", headers=AUTH) as response:
        assert response.status == 404
        assert "error" in await response.json()


def test_one_cache_loads_each_version_once_and_sees_promotions_at_once(engine) -> None:
    first = engine.translator("tiny")
    assert engine.translator("tiny") is first  # loaded once: no model file read again
    engine.registry.promote("tiny", 2)
    assert engine.translator("tiny").model.spec.label == "tiny v2"
    engine.registry.rollback("tiny")
    assert engine.translator("tiny") is first


async def test_malformed_form_on_promote_is_a_400(service: Service) -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="\x1b\xff"\r\n\r\n1\r\n--b--\r\n'
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    async with service.session.post(
        f"{service.url}/v1/models/tiny/promote", data=body, headers=headers
    ) as response:
        assert response.status == 400
        assert "malformed" in (await response.json())["error"]


@pytest.mark.parametrize(
    ("method", "path", "form"),
    [
        ("GET", "/v1/models/Tiny/1/sample.png", None),
        ("GET", "/v1/models/tiny/0/sample.png", None),
        ("GET", "/v1/models/tiny/%C2%B2/sample.png", None),
        ("POST", "/v1/models/..%2Fx/promote", None),
        ("POST", "/v1/models/tiny/promote", {"version": "x"}),
        ("POST", "/v1/models/a%00b/rollback", None),
        ("DELETE", "/v1/models/tiny/abc", None),
        ("POST", "/v1/translate", {"model": "../tiny"}),
        ("POST", "/v1/translate", {"model": "tiny@x"}),
    ],
)
async def test_names_are_checked_at_the_door(
    service: Service, png: bytes, method: str, path: str, form: dict[str, str] | None
) -> None:
    data = service.form(png, **form) if path == "/v1/translate" and form else form
    async with service.session.request(method, f"{service.url}{path}", data=data) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert "must be" in error and len(error) < 160


async def test_a_dataset_name_is_checked_before_the_upload_is_read(
    start_service, tmp_path, png: bytes
) -> None:
    service = await start_service(datasets_dir=tmp_path / "datasets")
    form = aiohttp.FormData()
    form.add_field("images", png, filename="a.png")
    async with service.session.post(f"{service.url}/v1/datasets/..%2Fup/images", data=form) as r:
        assert r.status == 400
        assert "dataset name must be" in (await r.json())["error"]
    assert not (tmp_path / "up").exists()


@pytest.mark.parametrize("count", [17, 40])
async def test_a_form_with_too_many_fields_is_a_413(service: Service, png: bytes, count) -> None:
    form = service.form(png, **{f"f{i}": "1" for i in range(count)})
    async with service.session.post(f"{service.url}/v1/translate", data=form) as response:
        assert response.status == 413
        assert "more than 16 text fields" in (await response.json())["error"]
    metrics = await (await service.session.get(f"{service.url}/metrics")).text()
    assert 'beautynet_stalled_connections_total{phase="headers"} 0' in metrics


async def test_a_text_only_form_is_bounded_too(service: Service) -> None:
    fields = {f"f{i}": "1" for i in range(40)}
    async with service.session.post(
        f"{service.url}/v1/models/tiny/promote", data=fields
    ) as response:
        assert response.status == 413
