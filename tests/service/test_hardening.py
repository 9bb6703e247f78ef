"""The service against a client that misbehaves, on a real `beautynet engine serve`.

Stalled heads and bodies, a flood of form fields, a client that leaves mid-upload and names
that try to leave the data folder: each is answered at once (or cut off within a generous
bound) and counted, and the service goes on serving.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bench.load import free_port, wait_healthy
from engine.datasets import MemoryFile, add_sources
from engine.imaging import encode_image
from engine.service.uploads import FORM_BYTES, FORM_FIELDS
from tests.conftest import photo_like, write_tiny_model

from .conftest import AUTH, TOKEN

HEADER_TIMEOUT_S = BODY_TIMEOUT_S = 1.0
CUT_OFF_WITHIN_S = 20.0  # generous: the server's timeouts are 1 s


class Served:
    """A running `beautynet engine serve`, its data folder and its log."""

    def __init__(self, url: str, process: subprocess.Popen[bytes], data: Path, log: Path) -> None:
        self.url, self.process, self.data, self.log = url, process, data, log
        self.port = int(url.rsplit(":", 1)[1])

    def rss_bytes(self) -> int:
        """The server's resident memory (Linux)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) * 1024  # type: ignore[index]

    async def metric(self, name: str, **labels: str) -> float:
        """One sample of /metrics (0 when absent)."""
        async with (
            aiohttp.ClientSession(headers=AUTH) as session,
            session.get(f"{self.url}/metrics") as response,
        ):
            text = await response.text()
        wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        head = f"{name}{{{wanted}}} " if labels else f"{name} "
        values = [float(line[len(head) :]) for line in text.splitlines() if line.startswith(head)]
        return values[0] if values else 0.0

    async def raw(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A plain TCP connection to the server."""
        return await asyncio.open_connection("127.0.0.1", self.port)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The service on 127.0.0.1 with 1 s timeouts, a tiny model and a 3-image dataset."""
    root = tmp_path_factory.mktemp("hardening")
    data = root / "data"
    write_tiny_model(data / "models", "tiny")
    photos = [MemoryFile(f"p{i}.png", encode_image(photo_like(seed=i), "png")) for i in range(3)]
    add_sources(data / "datasets", "garden", photos)
    port, log = free_port(), root / "engine.log"
    env = {
        **os.environ,
        "BEAUTYNET_DATA_DIR": str(data),
        "BEAUTYNET_DEVICE": "cpu",
        "ENGINE_TOKEN": TOKEN,
        "BEAUTYNET_ENGINE_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "BEAUTYNET_ENGINE_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "BEAUTYNET_TRAIN_EPOCHS": "1",
        "BEAUTYNET_TRAIN_NGF": "8",
        "BEAUTYNET_TRAIN_SIZE": "64",
        "BEAUTYNET_TRAIN_EPOCH_SAMPLES": "2",
    }
    command = [sys.executable, "-m", "beautynet", "engine", "serve", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(wait_healthy(url, process, 60))
        yield Served(url, process, data, log)
    finally:
        process.terminate()
        process.wait(timeout=30)


async def healthy(served: Served) -> bool:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{served.url}/healthz") as response,
    ):
        return response.status == 200


# ---- slow clients ------------------------------------------------------------------------
async def test_a_head_that_never_ends_is_cut_off_and_counted(served: Served) -> None:
    before = await served.metric("beautynet_stalled_connections_total", phase="headers")
    reader, writer = await served.raw()
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
    await writer.drain()
    started = time.monotonic()
    rest = await asyncio.wait_for(reader.read(), CUT_OFF_WITHIN_S)
    waited = time.monotonic() - started
    writer.close()
    assert rest == b""  # closed without an answer
    assert HEADER_TIMEOUT_S * 0.5 <= waited < CUT_OFF_WITHIN_S
    after = await served.metric("beautynet_stalled_connections_total", phase="headers")
    assert after == before + 1
    assert await healthy(served)


async def test_a_whole_head_is_not_cut_off(served: Served) -> None:
    """A request whose head arrives is answered however long it then waits for its answer."""
    reader, writer = await served.raw()
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    await writer.drain()
    await asyncio.sleep(HEADER_TIMEOUT_S / 4)
    writer.write(b"Connection: close\r\n\r\n")  # the head's end, split from its start
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), CUT_OFF_WITHIN_S)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200")


def form_head(length: bytes) -> bytes:
    """An authenticated multipart POST to /v1/translate, up to its body; `length` says how
    the body is delimited (a Content-Length or chunked transfer)."""
    return (
        b"POST /v1/translate HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
        b"Content-Type: multipart/form-data; boundary=xyz\r\n" + length + b"\r\n\r\n"
    )


async def test_a_body_that_stalls_is_cut_off_and_counted(served: Served) -> None:
    before = await served.metric("beautynet_stalled_connections_total", phase="body")
    reader, writer = await served.raw()
    writer.write(form_head(b"Transfer-Encoding: chunked"))
    part = b'--xyz\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n\r\nabc'
    writer.write(b"%x\r\n%s\r\n" % (len(part), part))  # then nothing more
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), CUT_OFF_WITHIN_S)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"stopped arriving" in answer and b"Traceback" not in answer
    after = await served.metric("beautynet_stalled_connections_total", phase="body")
    assert after == before + 1


# ---- forms -------------------------------------------------------------------------------
def _field(i: int) -> bytes:
    return (
        b'--xyz\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n' % i + b"v" * 1000 + b"\r\n"
    )


async def test_a_flood_of_form_fields_is_refused_at_once(served: Served) -> None:
    """A chunked body of up to 150,000 distinct 1000-byte fields: 413 within the first few."""
    rss_before = served.rss_bytes()
    reader, writer = await served.raw()
    writer.write(form_head(b"Transfer-Encoding: chunked"))
    status = asyncio.ensure_future(reader.readexactly(12))  # b"HTTP/1.1 413"
    sent, started = 0, time.monotonic()
    for batch in range(1500):  # 100 fields (about 100 KB) per chunk, until answered
        chunk = b"".join(_field(batch * 100 + i) for i in range(100))
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await asyncio.wait_for(writer.drain(), CUT_OFF_WITHIN_S)
        sent += 100
        await asyncio.sleep(0.001)
        if status.done():
            break
    answered_after = sent
    assert await asyncio.wait_for(status, CUT_OFF_WITHIN_S) == b"HTTP/1.1 413"
    rest = await asyncio.wait_for(reader.read(), CUT_OFF_WITHIN_S)  # the server closes
    writer.close()
    assert b"text field" in rest  # over FORM_BYTES together, or FORM_FIELDS in number
    assert answered_after <= 5_000, answered_after  # answered long before the end (150,000)
    assert time.monotonic() - started < CUT_OFF_WITHIN_S
    assert FORM_FIELDS * 1000 > FORM_BYTES  # so here the bytes ran out first
    assert served.rss_bytes() - rss_before < 32 * 1024 * 1024  # nothing held: no growth
    assert await healthy(served)


# ---- a client that leaves ----------------------------------------------------------------
async def test_a_client_that_leaves_mid_upload_is_one_line_and_no_500(served: Served) -> None:
    route = "/v1/translate"
    before = await served.metric("beautynet_client_disconnects_total", route=route)
    for _ in range(3):
        _, writer = await served.raw()
        writer.write(
            form_head(b"Content-Length: 1000000")
            + b'--xyz\r\nContent-Disposition: form-data; name="image"; filename="a"\r\n\r\n'
            + b"x" * 100_000
        )
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.transport.abort()  # gone, mid-upload
    for _ in range(200):
        now = await served.metric("beautynet_client_disconnects_total", route=route)
        if now >= before + 3:
            break
        await asyncio.sleep(0.05)
    assert now == before + 3
    assert await served.metric("beautynet_requests_total", route=route, status="500") == 0
    log = served.log.read_text()
    assert "Traceback" not in log and "internal error" not in log


# ---- names at the door -------------------------------------------------------------------
@pytest.mark.parametrize(
    "fields",
    [
        {"dataset": "garden", "name": "../../probe-escape"},
        {"dataset": "garden", "name": "/tmp/probe-escape"},
        {"dataset": "garden", "name": "Probe"},
        {"dataset": "../garden", "name": "probe"},
        {"dataset": "garden", "name": "x" * 65},
    ],
)
async def test_a_training_name_is_checked_before_anything_starts(
    served: Served, fields: dict[str, str]
) -> None:
    async with (
        aiohttp.ClientSession(headers=AUTH) as session,
        session.post(f"{served.url}/v1/trainings", data=fields) as response,
    ):
        body = await response.json()
    assert response.status == 400
    assert "name must be 1-64 lowercase letters, digits" in body["error"]
    assert len(body["error"]) < 200
    runs = served.data / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # nothing started
    for folder in (served.data.parent, served.data.parent.parent, Path("/tmp")):
        assert not (folder / "probe-escape").exists()


async def test_a_training_dry_run_checks_and_starts_nothing(served: Served) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        form = {"dataset": "garden", "name": "probe", "dry_run": "true"}
        async with session.post(f"{served.url}/v1/trainings", data=form) as response:
            assert response.status == 200
        form = {"dataset": "nope", "name": "probe", "dry_run": "true"}
        async with session.post(f"{served.url}/v1/trainings", data=form) as response:
            assert (response.status, await response.json()) == (
                400,
                {"error": "no dataset named 'nope'"},
            )
    runs = served.data / "runs"
    assert not runs.exists() or not any(runs.iterdir())


# ---- the page ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/static/index.html", "/static/app.js", "/static/nope"])
async def test_the_page_and_its_files_carry_the_security_headers(served: Served, path) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{served.url}{path}") as response,
    ):
        headers = response.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
