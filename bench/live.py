"""Live mode: frames per second and latency through the WebSocket, per bundled model.

Records a clip (a slow pan over an everyday photo, 640x480 at 30 fps), then, for each
bundled model, starts `beautynet engine serve` (a subprocess) and plays the clip into
`/v1/live` as the page does: frames of `--size` px (long side) as JPEG, the camera's newest
frame as soon as fewer than `--unanswered` (default 2, as the page) are unanswered. It
prints answered frames per second and p50/p99 latency (send to answer), next to the model's
forward pass measured in this process first (the baseline: the rate the network alone
allows).

Each model first runs alone (a fresh service that has served nothing else: the reference),
then the `--scenarios` asked for, each on a fresh service over the same data folder:
- `after`: a model's session right after another model's session ended;
- `switch`: a model's session opened (and its model loaded) while another model's frames
  flow, which then stop, as the page does when its model is changed;
- `sessions`: two sessions at once, one per model.
`after` and `switch` run both orders of the two models.

Run from the repository root:
    .venv/bin/python -m bench.live [--seconds 20] [--camera-fps 30] [--size 256] [--device auto]
        [--scenarios alone after switch sessions]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import secrets
import statistics
import struct
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import imageio_ffmpeg
import torch
from PIL import Image

from beautynet.cli.run import sample_images
from bench.common import describe_machine
from bench.load import free_port, start_service, wait_healthy
from engine.device import resolve_device
from engine.imaging import encode_image
from engine.models import ModelEntry, ModelRegistry, load_model
from engine.pipeline import ImageTranslator
from engine.runtimes import wall_seconds
from engine.service.live import PROTOCOL
from engine.video import read_frames

NUMBER = struct.Struct(">I")
SCENARIOS = ("after", "switch", "sessions")
CAMERA = (640, 480)


@dataclass(frozen=True)
class Report:
    """What one model's live run measured."""

    label: str
    condition: str  # the scenario: "alone", "after nature v7", ...
    forward_s: float
    played: Played

    @property
    def fps(self) -> float:
        return len(self.played.latencies) / self.played.seconds

    @property
    def p50(self) -> float:
        return statistics.median(self.played.latencies or [float("nan")])

    def line(self, alone: Report | None = None) -> str:
        ordered = sorted(self.played.latencies) or [float("nan")]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        bound = 1 / self.forward_s
        against = f"({self.fps / bound:4.2f}x the forward bound)"
        if alone is not None and alone is not self:
            against = f"({self.fps / alone.fps:4.2f}x, p50 {self.p50 / alone.p50:4.2f}x alone)"
        return (
            f"{self.label:<16} {self.condition:<28} live {self.fps:5.1f} frames/s {against}   "
            f"p50 {self.p50 * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms   "
            f"sent {self.played.sent}, answered {len(self.played.latencies)}, "
            f"errors {self.played.errors}"
        )


@dataclass(frozen=True)
class Played:
    """One session's measured part: frames sent, each answer's latency, errors, seconds."""

    sent: int
    latencies: list[float]
    errors: int
    seconds: float


def record_clip(target: Path, seconds: float = 6.0) -> Path:
    """A slow pan across an everyday photo: what a camera moving over a scene records."""
    photo = target.with_suffix(".png")
    photo.write_bytes(encode_image(dict(sample_images())["coffee"], "png"))
    pan = f"crop=400:300:x='(in_w-400)*t/{seconds}':y='(in_h-300)/2',scale={CAMERA[0]}:{CAMERA[1]}"
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-y",
        "-loglevel",
        "error",
        "-loop",
        "1",
        "-i",
        str(photo),
        "-t",
        str(seconds),
        "-r",
        "30",
        "-vf",
        pan,
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(target),
    ]
    subprocess.run(command, check=True, timeout=120)
    return target


def camera_frames(clip: Path, size: int) -> list[bytes]:
    """The clip's frames at `size` px (long side), JPEG-encoded as the page sends them."""
    width, height = size, round(size * CAMERA[1] / CAMERA[0])
    frames = read_frames(clip, (width, height))
    return [encode_image(Image.fromarray(frame), "jpeg", 80) for frame in frames]


def forward_time(entry: ModelEntry, device: torch.device, size: int, repeats: int = 30) -> float:
    """Median seconds of one generator call on a (1, 3, size, size) input, batch 1, one call
    at a time on all the network's threads (the service's streams trade this latency for
    throughput)."""
    translator = ImageTranslator(load_model(entry.path, device), streams=1)
    segmentation = torch.rand(1, 3, size, size, device=device)
    for _ in range(3):
        translator.interpret(segmentation)
    return statistics.median(
        wall_seconds(lambda: translator.interpret(segmentation), device) for _ in range(repeats)
    )


async def play(
    url: str,
    token: str,
    ref: str,
    frames: list[bytes],
    args,
    warmed: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
) -> Played:
    """Send frames at the camera's rate (at most two unanswered) for `args.seconds` after a
    warm-up (then `warmed` is set), or until `stop` is set."""
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    state = {"sent": 0, "answered": 0, "errors": 0}
    room = asyncio.Event()
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.ws_connect(f"{url}/v1/live?model={ref}", protocols=(PROTOCOL,)) as ws,
    ):

        async def receive() -> None:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:  # an error, or a model loading
                    state["errors"] += "error" in message.json()
                    continue
                (number,) = NUMBER.unpack_from(message.data)
                latencies.append(time.perf_counter() - sent_at[number])
                state["answered"] = number
                room.set()

        receiver = asyncio.create_task(receive())
        await warm_up(ws, frames[0], sent_at, state)
        if warmed is not None:
            warmed.set()
        latencies.clear()
        first, start = state["sent"], time.perf_counter()
        last_frame = -1

        def playing(elapsed: float) -> bool:
            return not stop.is_set() if stop is not None else elapsed < args.seconds

        while playing(elapsed := time.perf_counter() - start):
            frame = int(elapsed * args.camera_fps)  # the camera's newest frame
            if frame != last_frame and state["sent"] - state["answered"] < args.unanswered:
                state["sent"] += 1
                sent_at[state["sent"]] = time.perf_counter()
                await ws.send_bytes(NUMBER.pack(state["sent"]) + frames[frame % len(frames)])
                last_frame = frame
            room.clear()  # an answer, or the camera's next frame, whichever comes first
            next_frame = start + (frame + 1) / args.camera_fps - time.perf_counter()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(room.wait(), max(next_frame, 0.0))
        seconds = time.perf_counter() - start
        await asyncio.sleep(1.0)  # the last answers
        receiver.cancel()
    return Played(state["sent"] - first, latencies, state["errors"], seconds)


async def warm_up(ws, frame: bytes, sent_at: dict[int, float], state: dict[str, int]) -> None:
    """Five frames one by one: model loading and first allocations stay out of the figures."""
    for _ in range(5):
        state["sent"] += 1
        sent_at[state["sent"]] = time.perf_counter()
        await ws.send_bytes(NUMBER.pack(state["sent"]) + frame)
        while state["answered"] < state["sent"]:
            await asyncio.sleep(0.01)


class Bench:
    """Fresh services over one data folder (what a model's load measures is kept there)."""

    def __init__(self, frames: list[bytes], data: Path, args) -> None:
        self.frames, self.data, self.args = frames, data, args
        self.device = resolve_device(args.device)
        self.forward: dict[str, float] = {}

    def forward_s(self, entry: ModelEntry) -> float:
        if entry.spec.label not in self.forward:
            self.forward[entry.spec.label] = forward_time(entry, self.device, self.args.size)
        return self.forward[entry.spec.label]

    @contextlib.asynccontextmanager
    async def service(self) -> AsyncIterator[tuple[str, str]]:
        token, port = secrets.token_urlsafe(16), free_port()
        url = f"http://127.0.0.1:{port}"
        process = start_service(self.data, token, port, batching=True, device=self.args.device)
        try:
            await wait_healthy(url, process, 120)
            yield url, token
        finally:
            process.terminate()
            process.wait(timeout=60)

    def play(self, url: str, token: str, entry: ModelEntry, **events: asyncio.Event):
        ref = f"{entry.name}@{entry.version}"
        return play(url, token, ref, self.frames, self.args, **events)

    def report(self, entry: ModelEntry, condition: str, played: Played) -> Report:
        return Report(entry.spec.label, condition, self.forward_s(entry), played)

    async def alone(self, entry: ModelEntry) -> list[Report]:
        async with self.service() as (url, token):
            return [self.report(entry, "alone", await self.play(url, token, entry))]

    async def after(self, first: ModelEntry, then: ModelEntry) -> list[Report]:
        async with self.service() as (url, token):
            await self.play(url, token, first)
            played = await self.play(url, token, then)
        return [self.report(then, f"after {first.spec.label}", played)]

    async def switch(self, first: ModelEntry, then: ModelEntry) -> list[Report]:
        async with self.service() as (url, token):
            stop, warmed = asyncio.Event(), asyncio.Event()
            flowing = asyncio.create_task(self.play(url, token, first, stop=stop))
            await asyncio.sleep(self.args.seconds / 4)  # first's frames flow
            switched = asyncio.create_task(self.play(url, token, then, warmed=warmed))
            await warmed.wait()  # loaded (and warmed up) while first's frames flowed
            stop.set()
            await flowing
            played = await switched
        return [self.report(then, f"switched from {first.spec.label}", played)]

    async def sessions(self, first: ModelEntry, second: ModelEntry) -> list[Report]:
        async with self.service() as (url, token):
            both = await asyncio.gather(self.play(url, token, first), self.play(url, token, second))
        other = {first.spec.label: second, second.spec.label: first}
        return [
            self.report(entry, f"beside {other[entry.spec.label].spec.label}", played)
            for entry, played in zip((first, second), both, strict=True)
        ]


async def main_async(args: argparse.Namespace) -> None:
    registry = ModelRegistry(None)
    bundled = [e for e in registry.entries() if e.bundled]
    reports: list[Report] = []
    with tempfile.TemporaryDirectory(prefix="beautynet-live-") as tmp:
        clip = record_clip(Path(tmp) / "camera.mp4")
        frames = camera_frames(clip, args.size)
        bench = Bench(frames, Path(tmp), args)
        for entry in bundled:  # the reference, in this run: each model alone
            reports += await bench.alone(entry)
        pairs = list(itertools.permutations(bundled, 2))
        for scenario in args.scenarios:
            if scenario in ("after", "switch"):
                for first, then in pairs:
                    reports += await getattr(bench, scenario)(first, then)
            elif scenario == "sessions":
                reports += await bench.sessions(*bundled[:2])
    print(describe_machine())
    print(
        f"{len(frames)} recorded frames at {args.size} px, camera {args.camera_fps:g} fps, "
        f"{args.seconds:g} s per session, at most {args.unanswered} frame(s) unanswered"
    )
    alone = {r.label: r for r in reports if r.condition == "alone"}
    for report in reports:
        print(report.line(alone.get(report.label)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time per model")
    parser.add_argument("--camera-fps", type=float, default=30.0)
    parser.add_argument("--size", type=int, default=256, help="long side of the frames sent")
    parser.add_argument(
        "--unanswered", type=int, default=2, help="frames in flight at most (the page: 2)"
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument(
        "--scenarios",
        nargs="*",
        default=[],
        choices=SCENARIOS,
        help="besides each model alone: after another, switched from another, two sessions",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
