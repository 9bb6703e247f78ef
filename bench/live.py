"""Live mode: frames per second and latency through the WebSocket, per bundled model.

Records a clip (a slow pan over an everyday photo, 640x480 at 30 fps), then, for each
bundled model, starts `beautynet engine serve` (a subprocess) and plays the clip into
`/v1/live` as the page does: frames of `--size` px (long side) as JPEG, the camera's newest
frame as soon as fewer than `--unanswered` (default 2, as the page) are unanswered. It
prints answered frames per second and p50/p99 latency (send to answer), next to the model's
forward pass measured in this process first (the baseline: the rate the network alone
allows).

Run from the repository root:
    .venv/bin/python -m bench.live [--seconds 20] [--camera-fps 30] [--size 256] [--device auto]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import statistics
import struct
import subprocess
import tempfile
import time
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
CAMERA = (640, 480)


@dataclass(frozen=True)
class Report:
    """What one model's live run measured."""

    label: str
    forward_s: float
    seconds: float
    sent: int
    latencies: list[float]
    errors: int

    def line(self) -> str:
        ordered = sorted(self.latencies) or [float("nan")]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        fps = len(self.latencies) / self.seconds
        bound = 1 / self.forward_s
        return (
            f"{self.label:<18} forward {self.forward_s * 1000:6.1f} ms ({bound:5.1f}/s)   "
            f"live {fps:5.1f} frames/s ({fps / bound:4.2f}x the forward bound)   "
            f"p50 {statistics.median(ordered) * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms   "
            f"sent {self.sent}, answered {len(self.latencies)}, errors {self.errors}"
        )


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


async def play(url: str, token: str, ref: str, frames: list[bytes], args) -> tuple[int, list, int]:
    """Send frames at the camera's rate (at most two unanswered); (sent, latencies, errors)."""
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
                if message.type == aiohttp.WSMsgType.TEXT:
                    state["errors"] += 1
                    continue
                (number,) = NUMBER.unpack_from(message.data)
                latencies.append(time.perf_counter() - sent_at[number])
                state["answered"] = number
                room.set()

        receiver = asyncio.create_task(receive())
        await warm_up(ws, frames[0], sent_at, state)
        latencies.clear()
        first, start = state["sent"], time.perf_counter()
        last_frame = -1
        while (elapsed := time.perf_counter() - start) < args.seconds:
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
        await asyncio.sleep(1.0)  # the last answers
        receiver.cancel()
    return state["sent"] - first, latencies, state["errors"]


async def warm_up(ws, frame: bytes, sent_at: dict[int, float], state: dict[str, int]) -> None:
    """Five frames one by one: model loading and first allocations stay out of the figures."""
    for _ in range(5):
        state["sent"] += 1
        sent_at[state["sent"]] = time.perf_counter()
        await ws.send_bytes(NUMBER.pack(state["sent"]) + frame)
        while state["answered"] < state["sent"]:
            await asyncio.sleep(0.01)


async def run_model(entry: ModelEntry, frames: list[bytes], data: Path, args) -> Report:
    device = resolve_device(args.device)
    forward = forward_time(entry, device, args.size)
    token, port = secrets.token_urlsafe(16), free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_service(data, token, port, batching=True, device=args.device)
    try:
        await wait_healthy(url, process, 120)
        ref = f"{entry.name}@{entry.version}"
        sent, latencies, errors = await play(url, token, ref, frames, args)
    finally:
        process.terminate()
        process.wait(timeout=60)
    return Report(entry.spec.label, forward, args.seconds, sent, latencies, errors)


async def main_async(args: argparse.Namespace) -> None:
    registry = ModelRegistry(None)
    bundled = [e for e in registry.entries() if e.bundled]
    with tempfile.TemporaryDirectory(prefix="beautynet-live-") as tmp:
        clip = record_clip(Path(tmp) / "camera.mp4")
        frames = camera_frames(clip, args.size)
        reports = [await run_model(entry, frames, Path(tmp), args) for entry in bundled]
    print(describe_machine())
    print(
        f"{len(frames)} recorded frames at {args.size} px, camera {args.camera_fps:g} fps, "
        f"{args.seconds:g} s per model, at most {args.unanswered} frame(s) unanswered"
    )
    for report in reports:
        print(report.line())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time per model")
    parser.add_argument("--camera-fps", type=float, default=30.0)
    parser.add_argument("--size", type=int, default=256, help="long side of the frames sent")
    parser.add_argument(
        "--unanswered", type=int, default=2, help="frames in flight at most (the page: 2)"
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
