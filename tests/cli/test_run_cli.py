"""`beautynet run` without DISCORD_TOKEN: the engine and its page on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from bench.load import free_port


def test_run_without_a_token_serves_the_page(data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DISCORD_TOKEN", "ENGINE_TOKEN")
    }
    env.update(
        BEAUTYNET_ENGINE_PORT=str(port),
        BEAUTYNET_DATA_DIR=str(data_dir),
        BEAUTYNET_ENGINE_CODEC_THREADS="3",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "beautynet", "run"],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        told = []
        while not told or "open http" not in told[-1]:
            line = process.stderr.readline()
            assert line, f"beautynet run exited: {''.join(told)}"
            told.append(line)
        url = f"http://127.0.0.1:{port}/"
        assert f"open {url} in a browser" in told[-1]
        assert any("DISCORD_TOKEN" in line for line in told)  # and how to get a token
        assert any("decode/encode 3 (" in line for line in told)  # the threads it uses
        with urllib.request.urlopen(url, timeout=30) as page:
            assert page.status == 200 and b"beautynet" in page.read()
        with urllib.request.urlopen(f"{url}v1/models", timeout=30) as listed:
            names = {model["name"] for model in json.load(listed)["models"]}
        assert {"tiny", "tiny-edges"} <= names  # loopback: no token needed
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == 0  # SIGTERM stops it cleanly


def test_run_says_when_the_port_is_taken(data_dir: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "BEAUTYNET_ENGINE_PORT": str(port),
            "BEAUTYNET_DATA_DIR": str(data_dir),
        }
        env.pop("DISCORD_TOKEN", None)
        done = subprocess.run(
            [sys.executable, "-m", "beautynet", "run"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
