"""Load test of the engine service: N concurrent clients, a fixed number of requests.

First measures two baselines in this process, with the service's threads, runtime, batch
size and streams: the generator alone (images per second of the network and nothing else),
and the engine's whole still-image path without HTTP (decode, segment, translate, compose,
encode). Then starts
`beautynet engine serve` (a subprocess, so client and server do not share an event loop) on
127.0.0.1 with the bundled model, once with its batching and once with `--no-batching`, and
prints throughput, p50/p99 latency and errors for each, and the service's throughput as a
share of each baseline: of the first, what everything around the network costs; of the
second, what the service itself (HTTP, queues, batching, threads) costs.

Run from the repository root:
    .venv/bin/python -m bench.load [--clients 64] [--requests 512] [--model nature]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import torch

from bench.common import describe_machine, photo_like
from engine.core import Engine
from engine.device import resolve_device
from engine.imaging import encode_image
from engine.models import ModelRegistry
from engine.threads import plan_threads, use_threads

SIZE = 256  # the photos' long side: the bundled models' size


@dataclass(frozen=True)
class Report:
    """What one load run measured (stages: mean seconds per stage, from /metrics)."""

    label: str
    ok: int
    errors: int
    seconds: float
    client_cpu_seconds: float  # this process's: the load generator shares the cores
    latencies: list[float]
    stages: dict[str, float]

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds

    def line(self) -> str:
        """One line of the results table."""
        ordered = sorted(self.latencies) or [float("nan")]
        p50 = statistics.median(ordered)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        stages = " ".join(f"{k} {v * 1000:.1f}" for k, v in self.stages.items() if k != "batch")
        batch = self.stages.get("batch", float("nan"))
        client_ms = self.client_cpu_seconds / max(self.ok, 1) * 1000
        return (
            f"{self.label:<12} {self.throughput:8.1f} img/s   p50 {p50 * 1000:7.1f} ms   "
            f"p99 {p99 * 1000:7.1f} ms   errors {self.errors}\n"
            f"{'':<12} mean batch {batch:.1f}; server means (ms): {stages}\n"
            f"{'':<12} the clients (this process) used {client_ms:.1f} CPU-ms per image"
        )


def stage_means(metrics: str) -> dict[str, float]:
    """Mean seconds per stage, and the mean batch size ("batch"), from the Prometheus text."""
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for line in metrics.splitlines():
        for suffix, target in (("_sum", sums), ("_count", counts)):
            for prefix, key in (("beautynet_stage_seconds", None), ("beautynet_batch_size", "")):
                if line.startswith(prefix + suffix):
                    name = line.split('stage="')[1].split('"')[0] if key is None else "batch"
                    target[name] = float(line.rsplit(" ", 1)[1])
    return {name: sums[name] / counts[name] for name in sums if counts.get(name)}


def per_second(work: Callable[[], int], workers: int, seconds: float = 10.0) -> float:
    """Items per second of `work` (which returns how many it did) run by `workers` threads."""
    done = [0] * workers
    deadline = time.perf_counter() + seconds

    def loop(worker: int) -> None:
        while time.perf_counter() < deadline:
            done[worker] += work()

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(loop, range(workers)))
    return sum(done) / (time.perf_counter() - started)


def baselines(model: str, device: str, image: bytes) -> tuple[float, float, str]:
    """In this process, with the service's threads, runtime, batch size and streams: images/s
    of the generator alone at 256x256, and of the engine's whole still-image path (decode,
    segment, translate, compose, encode) without HTTP; and how the generator ran."""
    plan = plan_threads()
    use_threads(plan)
    engine = Engine(ModelRegistry(None), resolve_device(device), streams=plan.streams)
    translator = engine.translator(model)
    runner, size = translator.runner, translator.model.spec.size
    batch = torch.rand(translator.batch_size, 3, size, size) * 2 - 1

    def generator_alone() -> int:
        runner(batch)
        return len(batch)

    def whole_path() -> int:
        engine.translate_bytes(image, model)
        return 1

    alone = per_second(generator_alone, runner.streams)
    whole = per_second(whole_path, runner.streams)
    return alone, whole, translator.describe()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("the engine service exited")
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} did not become healthy in {timeout_s} s")


def start_service(data_dir: Path, token: str, port: int, batching: bool, device: str):
    """`beautynet engine serve` in a subprocess."""
    env = {
        **os.environ,
        "BEAUTYNET_DATA_DIR": str(data_dir),
        "ENGINE_TOKEN": token,
        "BEAUTYNET_DEVICE": device,
        "BEAUTYNET_ENGINE_QUEUE_SIZE": "1024",
    }
    command = [sys.executable, "-m", "beautynet", "engine", "serve", "--port", str(port)]
    if not batching:
        command.append("--no-batching")
    return subprocess.Popen(command, env=env)


async def one_request(
    session: aiohttp.ClientSession, url: str, image: bytes, request_id: str, model: str
) -> float:
    form = aiohttp.FormData({"model": model})
    form.add_field("image", image, filename="photo.png", content_type="image/png")
    start = time.monotonic()
    async with session.post(
        f"{url}/v1/translate", data=form, headers={"X-Request-Id": request_id}
    ) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
    return time.monotonic() - start


async def load(url: str, token: str, image: bytes, args: argparse.Namespace, label: str):
    """`args.clients` workers share `args.requests` requests; returns the report."""
    clients, requests = args.clients, args.requests
    latencies: list[float] = []
    errors = 0
    remaining = iter(range(requests))
    timeout = aiohttp.ClientTimeout(total=600)
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector) as s:
        for i in range(4):  # warm-up: model loading, first allocations
            await one_request(s, url, image, f"warm-{label}-{i}", args.model)

        async def client() -> None:
            nonlocal errors
            for i in remaining:
                try:
                    latency = await one_request(s, url, image, f"{label}-{i}", args.model)
                    latencies.append(latency)
                except (aiohttp.ClientError, RuntimeError, TimeoutError):
                    errors += 1

        start, cpu_start = time.monotonic(), time.process_time()
        await asyncio.gather(*(client() for _ in range(clients)))
        seconds, cpu_seconds = time.monotonic() - start, time.process_time() - cpu_start
        async with s.get(f"{url}/metrics") as response:
            stages = stage_means(await response.text())
    return Report(label, len(latencies), errors, seconds, cpu_seconds, latencies, stages)


async def run_mode(args: argparse.Namespace, data_dir: Path, image: bytes, batching: bool):
    token, port = secrets.token_urlsafe(16), free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_service(data_dir, token, port, batching, args.device)
    try:
        await wait_healthy(url, process, 120)
        label = "batching" if batching else "no batching"
        return await load(url, token, image, args, label)
    finally:
        process.terminate()
        process.wait(timeout=60)


async def main_async(args: argparse.Namespace) -> None:
    image = encode_image(photo_like(SIZE, SIZE * 3 // 4, seed=1), "png")  # a 4:3 photo
    baseline, engine_rate, how = baselines(args.model, args.device, image)
    with tempfile.TemporaryDirectory(prefix="beautynet-load-") as tmp:
        data_dir = Path(tmp)
        reports = [await run_mode(args, data_dir, image, batching) for batching in (True, False)]
    print(describe_machine())
    print(f"{args.clients} clients, {args.requests} requests of a {SIZE}x{SIZE * 3 // 4} PNG")
    print(f"{'runtime':<12} {baseline:8.1f} img/s   the generator alone: {how}")
    print(f"{'engine':<12} {engine_rate:8.1f} img/s   the whole path in this process, no HTTP")
    for report in reports:
        print(report.line())
        print(
            f"{'':<12} {report.throughput / baseline:.0%} of the runtime's own images/s, "
            f"{report.throughput / engine_rate:.0%} of the engine's in this process"
        )
    ratio = reports[0].throughput / reports[1].throughput
    print(f"batching / no batching throughput: {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--model", default="nature", help="an installed model (name[@version])")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
