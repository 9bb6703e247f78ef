"""Ways to run a generator on a fixed input shape: eager PyTorch, torch.compile, ONNX Runtime
and OpenVINO.

Each runtime maps a (B, 3, H, W) float32 batch in [-1, 1] to the generator's output, for the
one shape it was built for. The exported ones start from the model's own weights (an ONNX
graph written to a folder the caller gives), never from a download. `bench/runtimes.py`
measures them; a runtime that cannot be built here raises `RuntimeUnavailable` with the
reason.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.device import place
from engine.names import inside
from engine.nets import UnetGenerator, fix_noise

RUNTIMES = (
    "eager-fp32",
    "eager-bf16",
    "compile-fp32",
    "compile-bf16",
    "onnxruntime-fp32",
    "openvino-fp32",
    "openvino-bf16",
)


CPU = torch.device("cpu")


class RuntimeUnavailable(RuntimeError):
    """A runtime that cannot be built on this machine (missing package, failed export)."""


@dataclass(frozen=True)
class Shape:
    """The input shape a runtime is built for."""

    batch: int
    height: int
    width: int


Run = Callable[[torch.Tensor], torch.Tensor]


def build_runtime(
    name: str, generator: UnetGenerator, shape: Shape, threads: int, work_dir: Path
) -> Run:
    """A callable running `generator` (an fp32 CPU copy is taken) on batches of `shape`.

    ONNX Runtime and OpenVINO use `threads`; eager and compiled PyTorch use torch's own
    setting (`torch.set_num_threads`), which belongs to the process.
    """
    if name not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {name!r}")
    network = copy.deepcopy(generator).float().cpu().eval().requires_grad_(False)
    fix_noise(network, shape.height, shape.width)
    kind, precision = name.rsplit("-", 1)
    try:
        if kind == "eager":
            return _eager(place(network, CPU), precision)
        if kind == "compile":
            return _compiled(network, precision)
        onnx = _export_onnx(network, shape, work_dir)
        if kind == "onnxruntime":
            return _onnxruntime(onnx, threads)
        return _openvino(onnx, precision, threads)
    except RuntimeUnavailable:
        raise
    except Exception as exc:  # an exporter or runtime that fails on this machine
        raise RuntimeUnavailable(f"{name}: {type(exc).__name__}: {str(exc)[:200]}") from exc


def _eager(network: torch.nn.Module, precision: str) -> Run:
    def run(batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            x = batch.contiguous(memory_format=torch.channels_last)
            if precision == "bf16":
                with torch.autocast("cpu", torch.bfloat16):
                    return network(x).float()
            return network(x)

    return run


def _compiled(network: torch.nn.Module, precision: str) -> Run:
    if precision == "bf16":
        network = network.to(torch.bfloat16)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    compiled = torch.compile(place(network, CPU), fullgraph=True)

    def run(batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            x = batch.to(dtype).contiguous(memory_format=torch.channels_last)
            return compiled(x).float()

    return run


def _export_onnx(network: torch.nn.Module, shape: Shape, work_dir: Path) -> Path:
    path = inside(work_dir, f"generator-{shape.batch}x{shape.height}x{shape.width}.onnx")
    if not path.exists():
        example = torch.zeros(shape.batch, 3, shape.height, shape.width)
        work_dir.mkdir(parents=True, exist_ok=True)
        torch.onnx.export(
            network, (example,), str(path), dynamo=False, input_names=["x"], output_names=["y"]
        )
    return path


def _onnxruntime(path: Path, threads: int) -> Run:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise RuntimeUnavailable("onnxruntime is not installed") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(batch: torch.Tensor) -> torch.Tensor:
        (output,) = session.run(None, {"x": batch.numpy()})
        return torch.from_numpy(np.asarray(output))

    return run


def _openvino(path: Path, precision: str, threads: int) -> Run:
    try:
        import openvino as ov
    except ImportError as exc:
        raise RuntimeUnavailable("openvino is not installed") from exc
    core = ov.Core()
    config = {
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
    }
    compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
    request = compiled.create_infer_request()
    output = compiled.output(0)

    def run(batch: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.array(request.infer({0: batch.numpy()})[output]))

    return run
