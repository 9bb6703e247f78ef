"""The bundled generators at 256 px through every runtime worth trying on this machine.

For each model, runtime, thread count and batch size: the median milliseconds per image, the
GFLOP/s that makes (the generator's own FLOPs per image, counted by torch), and the largest
difference from eager fp32 on real photos, in 0..255 levels of the encoded output. A runtime
that cannot be built here is reported with its reason. The last lines compare the fastest
runtime that keeps the picture (difference <= 2 levels) with eager bf16 and fp32 at batch 1.

Each runtime runs through `engine.runtimes.GeneratorRunner`, as the engine runs it.
`--device cuda` measures the GPU runtimes (eager bf16 and fp16, torch.compile with CUDA
graphs, TensorRT where torch_tensorrt is installed) at batch 1 to 64.

Run from the repository root:
    .venv/bin/python -m bench.runtimes [--models nature nature-edges] [--batches 1 2 4 8]
        [--threads 1 2] [--runtimes eager-fp32 ...] [--repeats 7] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.common import describe_machine
from bench.quality import everyday_photos
from engine.device import resolve_device, set_torch_threads
from engine.imaging.tensors import to_tensor
from engine.models import Model, ModelRegistry, load_model, parse_model_ref
from engine.runtimes import RUNTIMES, GeneratorRunner, wall_seconds
from engine.segment import build_segmenter

SIZE = 256
DEFAULTS = {  # runtimes and batch sizes measured on each device unless told otherwise
    "cpu": ([r for r in RUNTIMES if "fp16" not in r], [1, 2, 4, 8]),
    "cuda": (
        ["eager-fp32", "eager-bf16", "eager-fp16", "compile-bf16", "tensorrt-fp16"],
        [1, 2, 4, 8, 16, 32, 64],
    ),
}
KEEPS_THE_PICTURE = 2  # levels of 0..255: the largest difference a runtime may make
BASELINES = ("eager-bf16", "eager-fp32")
HEADER = (
    f"{'model':<13} {'runtime':<17} {'th':>2} {'bat':>3} {'ms/img':>9} {'GFLOP/s':>8} {'diff':>5}"
)


@dataclass(frozen=True)
class Row:
    model: str
    runtime: str
    threads: int
    batch: int
    ms_per_image: float | None = None
    gflops: float | None = None
    difference: int | None = None
    failure: str = ""

    def line(self) -> str:
        head = f"{self.model:<13} {self.runtime:<17} {self.threads:>2} {self.batch:>3}"
        if self.failure:
            return f"{head}  failed: {self.failure}"
        return f"{head} {self.ms_per_image:9.1f} {self.gflops:8.1f} {self.difference:5d}"


def segmented_photos(model: Model, count: int) -> torch.Tensor:
    """(count, 3, SIZE, SIZE) generator inputs in [-1, 1]: everyday photos, squared and
    segmented by the model's own segmenter (repeated when there are fewer photos)."""
    photos = [image for _, image in everyday_photos()]
    squares = []
    for i in range(count):
        image = photos[i % len(photos)]
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        square = image.crop((left, top, left + side, top + side)).resize((SIZE, SIZE))
        squares.append(to_tensor(square))
    segmented = build_segmenter(model.spec.segmenter).segment(torch.stack(squares)).images
    device = next(model.generator.parameters()).device
    return (segmented * 2 - 1).float().contiguous().to(device)


def gflop_per_image(model: Model) -> float:
    counter = FlopCounterMode(display=False)
    device = next(model.generator.parameters()).device
    with counter, torch.inference_mode():
        model.generator.float()(torch.zeros(1, 3, SIZE, SIZE, device=device))
    return counter.get_total_flops() / 1e9


def encoded(output: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> the 0..255 levels an encoded image carries."""
    return ((output.float().cpu().clamp(-1, 1) + 1) * 127.5).round()


@dataclass(frozen=True)
class Case:
    """What every runtime is measured on for one model and batch size: the inputs, eager
    fp32's encoded output on them (the reference), and the model's GFLOP per image."""

    model: Model
    label: str
    inputs: torch.Tensor
    expected: torch.Tensor
    gflop: float

    @classmethod
    def of(cls, model: Model, label: str, batch: int, gflop: float) -> Case:
        inputs = segmented_photos(model, batch)
        expected = encoded(GeneratorRunner(model.generator, "eager-fp32")(inputs))
        return cls(model, label, inputs, expected, gflop)


def measure(case: Case, runtime: str, threads: int, repeats: int) -> Row:
    batch = len(case.inputs)
    set_torch_threads(threads)
    try:
        # One call at a time, on all `threads`: the latency of one call (the service's streams
        # trade it for throughput; bench/load.py measures that).
        generator = case.model.generator
        run = GeneratorRunner(generator, runtime, threads=threads, streams=1, probe=(SIZE, SIZE))
        if run.name != runtime:  # the engine would fall back to eager; here that is a failure
            return Row(case.label, runtime, threads, batch, failure=run.fallbacks[0])
        output = run(case.inputs)  # warm-up (and this batch size's compilation)
        times = [wall_seconds(lambda: run(case.inputs), case.inputs.device) for _ in range(repeats)]
    except Exception as exc:  # it built, then crashed on its first run (a lazy compiler)
        failure = f"{runtime}: {type(exc).__name__}: {str(exc)[:200]}"
        return Row(case.label, runtime, threads, batch, failure=failure)
    difference = int((encoded(output) - case.expected).abs().max())
    ms = statistics.median(times) * 1000 / batch
    return Row(case.label, runtime, threads, batch, ms, case.gflop / ms * 1000, difference)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["nature", "nature-edges"])
    parser.add_argument("--runtimes", nargs="+", choices=RUNTIMES, help="default: the device's")
    parser.add_argument("--batches", nargs="+", type=int, help="default: the device's")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args()
    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runtimes, batches = DEFAULTS[device.type]
    threads = args.threads if device.type == "cpu" else [torch.get_num_threads()]
    print(describe_machine(), f"(this process may use {len(os.sched_getaffinity(0))} cores)")
    print(HEADER)
    rows: list[Row] = []
    for ref in args.models:
        model = load_model(ModelRegistry(None).get(*parse_model_ref(ref)).path, device)
        gflop = gflop_per_image(model)
        print(f"# {model.spec.label}: {gflop:.2f} GFLOP per {SIZE} px image")
        cases = [Case.of(model, ref, batch, gflop) for batch in args.batches or batches]
        for runtime in args.runtimes or runtimes:
            for count in threads:
                for case in cases:
                    row = measure(case, runtime, count, args.repeats)
                    rows.append(row)
                    print(row.line(), flush=True)
    print_verdict(rows)
    return 0


def print_verdict(rows: list[Row]) -> None:
    """Per model: the fastest row that keeps the picture, against eager bf16 and eager fp32 at
    batch 1 (each at its best thread count); the engine runs the second where the CPU has no
    fast bf16."""
    for model in dict.fromkeys(r.model for r in rows):
        done = [r for r in rows if r.model == model and not r.failure]
        keeping = [
            r for r in done if r.difference is not None and r.difference <= KEEPS_THE_PICTURE
        ]
        if not keeping:
            continue
        best = min(keeping, key=milliseconds)
        verdict = (
            f"{model}: fastest keeping the picture: {best.runtime}, {best.threads} threads, "
            f"batch {best.batch}, {best.ms_per_image:.1f} ms/image"
        )
        for baseline in BASELINES:
            base = [r for r in done if r.runtime == baseline and r.batch == 1]
            if base:
                quickest = min(base, key=milliseconds)
                verdict += f"; {baseline} batch 1 {milliseconds(quickest):.1f} ms: "
                verdict += f"{milliseconds(quickest) / milliseconds(best):.2f}x"
        print(verdict)


def milliseconds(row: Row) -> float:
    return row.ms_per_image if row.ms_per_image is not None else float("inf")


if __name__ == "__main__":
    sys.exit(main())
