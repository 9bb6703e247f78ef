"""What an operator sees of a real `beautynet engine serve`: the start-up line, one access-log
line per request (never the token), and a graceful stop that finishes a request in flight.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.load import free_port
from engine.imaging import encode_image
from engine.models import ModelRegistry
from engine.segment import EdgesConfig
from tests.conftest import auto_cpu_runtime, photo_like, write_tiny_model

from .conftest import TOKEN

TIMEOUT_S = 60
BATCH_WAIT_MS = 3000


class Served:
    """A service subprocess and the lines of its stderr, as they come."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process, self.port = process, port
        self.url = f"http://127.0.0.1:{port}"
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)
        self.lines.put(None)  # the stream ended

    def wait_for(self, text: str) -> str:
        """The next stderr line holding `text` (every line read is kept in `seen`)."""
        while (line := self.lines.get(timeout=TIMEOUT_S)) is not None:
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"the service ended without saying {text!r}: {''.join(self.seen)}")

    def in_flight(self) -> int:
        """Requests being answered, besides the one asking."""
        with urllib.request.urlopen(f"{self.url}/healthz", timeout=TIMEOUT_S) as answer:
            return int(json.load(answer)["in_flight"]) - 1


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    data = tmp_path / "data"
    write_tiny_model(data / "models", "tiny")
    write_tiny_model(data / "models", "tiny-edges", EdgesConfig())
    port = free_port()
    env = {**os.environ, "BEAUTYNET_DATA_DIR": str(data), "BEAUTYNET_DEVICE": "cpu"}
    # A lone image waits this long for company before it is translated: time to stop the
    # service while its request is in flight.
    env.update(ENGINE_TOKEN=TOKEN, BEAUTYNET_ENGINE_BATCH_WAIT_MS=str(BATCH_WAIT_MS))
    command = [sys.executable, "-m", "beautynet", "engine", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        yield Served(process, port)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=TIMEOUT_S)


def translate_request(port: int) -> tuple[bytes, bytes]:
    """A POST /v1/translate with the token and a request id: its head and its body."""
    photo = encode_image(photo_like(96, 64), "png")
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + photo + b"\r\n--xyz--\r\n"
    )
    head = (
        f"POST /v1/translate?k=5 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nX-Request-Id: slow-1\r\n"
        f"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode(), body


def wait_until_in_flight(served: Served) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while served.in_flight() < 1:
        assert time.monotonic() < deadline, "the request never started"
        time.sleep(0.05)


def test_start_line_access_log_and_a_graceful_stop(served: Served) -> None:
    started = served.wait_for("engine service on http")
    bundled_default = ModelRegistry(None).get("nature").spec.label  # the shipped version
    assert f"{bundled_default} (default)" in started and ", tiny v1, tiny-edges v1;" in started
    assert "threads: network" in started
    said = "".join(served.seen)  # the default model loaded before the port opened
    assert f"engine runtime: {bundled_default} on {auto_cpu_runtime()}, batch " in said
    head, body = translate_request(served.port)
    with socket.create_connection(("127.0.0.1", served.port), timeout=TIMEOUT_S) as client:
        client.sendall(head + body)
        wait_until_in_flight(served)  # waiting for a batch to fill
        served.process.send_signal(signal.SIGTERM)
        stopping = served.wait_for("engine service stopping")
        assert "finishing 1 request(s) in flight" in stopping
        answer = client.recv(4096)  # still answered
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    served.wait_for("engine service stopped")
    assert served.process.wait(timeout=TIMEOUT_S) == 0
    said = "".join(served.seen)
    (line,) = [line for line in served.seen if "POST /v1/translate" in line]
    assert " 200 " in line and "ms request slow-1" in line
    assert "GET /healthz 200" in said  # every request has its line
    assert TOKEN not in said and "k=5" not in said  # no header's value, no query
