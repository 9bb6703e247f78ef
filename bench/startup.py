"""The first minute: how long the command line and the main job take to answer.

Runs the installed `beautynet` as a person does, each command a fresh process, over a fresh
data folder: a bad file refused, `beautynet models`, one everyday photo translated (the first
time on this machine, when what the engine measures about it is measured and kept, then
again with what was kept), and `beautynet run` until it says it is ready (first start, then
later ones). The baseline, in the same run: a Python that only imports torch, the floor of
every command that loads a model. Medians of `--repeats` runs.

Run from the repository root:
    .venv/bin/python -m bench.startup [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from beautynet.cli.run import sample_images
from bench.common import describe_machine
from bench.load import free_port

BEAUTYNET = [sys.executable, "-m", "beautynet"]
READY = "is ready"


def timed(command: list[str], env: dict[str, str]) -> float:
    """Seconds one command takes, start to exit (it must succeed, or fail as expected)."""
    started = time.perf_counter()
    subprocess.run(command, env=env, capture_output=True, timeout=300, check=False)
    return time.perf_counter() - started


def until_ready(env: dict[str, str]) -> float:
    """Seconds from starting `beautynet run` to its line saying it is ready; then stopped."""
    env = {**env, "BEAUTYNET_ENGINE_PORT": str(free_port())}
    started = time.perf_counter()
    process = subprocess.Popen(
        [*BEAUTYNET, "run"], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if READY in line:
                return time.perf_counter() - started
        raise RuntimeError(f"beautynet run ended without saying it was ready ({process.wait()})")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def median_of(repeats: int, measure: Callable[[], float]) -> tuple[float, list[float]]:
    times = [measure() for _ in range(repeats)]
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="beautynet-startup-") as tmp:
        folder = Path(tmp)
        photo, text = folder / "chelsea.jpg", folder / "notes.jpg"
        dict(sample_images())["chelsea"].save(photo, quality=90)  # 451x300, as the issue's
        text.write_text("a text file with an image's name\n")
        env = {**os.environ, "BEAUTYNET_DATA_DIR": str(folder / "data")}
        env.pop("DISCORD_TOKEN", None)
        translate = [*BEAUTYNET, "translate", str(photo), "-o", str(folder / "out.png")]
        rows: list[tuple[str, float, list[float]]] = []

        def row(name: str, measure: Callable[[], float], repeats: int = args.repeats) -> float:
            median, times = median_of(repeats, measure)
            rows.append((name, median, times))
            return median

        floor = row(
            "baseline: python -c 'import torch'",
            lambda: timed([sys.executable, "-c", "import torch"], env),
        )
        row(
            "translate a text file named .jpg",
            lambda: timed([*BEAUTYNET, "translate", str(text)], env),
        )
        row("models", lambda: timed([*BEAUTYNET, "models"], env))
        first = row("translate a photo, first on this machine", lambda: timed(translate, env), 1)
        warm = row("translate a photo, measurements kept", lambda: timed(translate, env))
        row(
            "run: ready, first start on this machine",
            lambda: until_ready({**env, "BEAUTYNET_DATA_DIR": str(folder / "fresh")}),
            1,
        )
        row("run: ready, later starts", lambda: until_ready(env), max(3, args.repeats // 2))
    print(describe_machine())
    for name, median, times in rows:
        each = ", ".join(f"{t:.2f}" for t in times)
        print(f"{name:<45} {median:6.2f} s   ({each})")
    print(
        f"a photo with what was kept: {first / warm:.1f}x faster than the first time, "
        f"{warm - floor:.2f} s beyond importing torch"
    )


if __name__ == "__main__":
    main()
