"""Runtimes for the networks: eager PyTorch, torch.compile, ONNX Runtime and OpenVINO.

A `GeneratorRunner` runs one generator through one runtime, for any input shape. The
compiled and exported runtimes get a graph per input (height, width), because the noise
layers' fixed fields depend on it (`fix_noise`); each graph is exported from the loaded
weights on first use (never downloaded; with a `MachineStore`, kept in the data folder for
the next load), and OpenVINO compiles it once per batch size. `auto` takes the fastest
runtime that keeps the picture on this device; one that cannot be built here falls back to
eager PyTorch, with the reason logged and kept. What a load measures here (the runtime
chosen, the batch size) is kept in the store too, and each runner's `Pace` says when its
calls run slower than measured. A `DetailRunner` runs a model's detail network beside its
generator, on the generator's runtime where it can.
"""

from __future__ import annotations

import copy
import importlib
import io
import logging
import queue
import statistics
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch

from engine.built import BuiltOnce
from engine.device import autocast, place, resolve_precision, torch_threads
from engine.machine import MachineStore
from engine.names import AUTO, RUNTIMES, check_runtime
from engine.nets import DetailEnhancer, UnetGenerator, fix_noise
from engine.threads import default_streams

__all__ = [  # the runtime names live with the other names from outside
    "AUTO",
    "RUNTIMES",
    "DetailRunner",
    "GeneratorRunner",
    "RuntimeInfo",
    "RuntimeUnavailable",
    "check_runtime",
    "wall_seconds",
]

log = logging.getLogger(__name__)

# `bench/runtimes.py` on a 2-core AMD EPYC with AVX2 (no AVX-512), 2 threads, batch 1, ms
# per image: OpenVINO fp32 25-34, torch.compile fp32 28-31 (but a minute's compiling per
# batch size), ONNX Runtime 33-37, eager fp32 48-74, eager bf16 238-257 (emulated); each
# within 1 level of 255 of eager fp32 on everyday photos. On one with AVX-512 BF16: OpenVINO
# bf16 13.0 (1 thread: 24.1), fp32 23.1 (47.2), eager bf16 47.1, within 2 levels: where the
# CPU runs bf16 natively, OpenVINO bf16 comes first.
CPU_PREFERENCE = ("openvino-fp32", "onnxruntime-fp32")
NATIVE_BF16_FIRST = "openvino-bf16"
CPU_ONLY = ("onnxruntime", "openvino")
CUDA_ONLY = ("tensorrt",)
TENSORRT_BATCHES = (1, 8, 64)  # the smallest, the most common and the largest batch it takes
GRAPHS_KEPT = 8  # input shapes whose graphs stay built (3 cover a model's own size)
BATCH_CHOICES = {"cpu": (1, 2, 4, 8), "cuda": (1, 2, 4, 8, 16, 32, 64)}
# A smaller batch within 10% of the fastest per image wins: less latency, and two runs of
# the same batch on a CPU differ by about that much.
BATCH_TOLERANCE = 0.10
# A model whose calls take this much longer than measured for it here is said to be slow,
# judged on the median of its last calls at the measured shape.
SLOW = 1.5
PACE_CALLS = 32

Run = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class RuntimeInfo:
    """How a model runs: its runtime, batch size, streams, and why others could not run."""

    name: str
    batch: int
    streams: int
    fallbacks: tuple[str, ...] = ()
    slowdown: float = 1.0  # its recent calls against what was measured for it (`Pace`)

    def describe(self) -> str:
        """'openvino-fp32, batch 1, 2 streams' (then why a runtime fell back, if one did, and
        how much slower than measured it runs, when it is slow)."""
        text = f"{self.name}, batch {self.batch}"
        text += f", {self.streams} streams" if self.streams > 1 else ""
        text += "".join(f" (instead of {reason})" for reason in self.fallbacks)
        return text + (
            f", {self.slowdown:.1f}x slower than measured" if self.slowdown >= SLOW else ""
        )


class RuntimeUnavailable(RuntimeError):
    """A runtime that cannot be built on this machine (missing package, failed export)."""


def candidates(requested: str, device: torch.device) -> tuple[str, ...]:
    """The runtimes to try, in order: the requested one (or auto's), then eager PyTorch."""
    precision = resolve_precision(device)
    eager = f"eager-{precision}"
    if requested == AUTO:
        if device.type != "cpu":
            return (eager,)
        native = (NATIVE_BF16_FIRST,) if precision == "bf16" else ()
        return (*native, *CPU_PREFERENCE, eager)
    return (requested,) if requested == eager else (requested, eager)


# ---- one runtime ---------------------------------------------------------------------------
class _Backend:
    """Builds one callable per input (height, width), keeps the last few, and runs batches."""

    streams = 1  # batches it runs at once to good effect

    def __init__(
        self, generator: UnetGenerator, precision: str, threads: int, fallback: Run | None
    ) -> None:
        self.generator, self.precision, self.threads = generator, precision, threads
        self.fallback = fallback  # for a shape whose graph cannot be built (None: raise)
        self._graphs: BuiltOnce[tuple[int, int], Run] = BuiltOnce(GRAPHS_KEPT)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return self.graph(batch.shape[-2], batch.shape[-1])(batch)

    def graph(self, height: int, width: int) -> Run:
        """The callable for (height, width) inputs, built now if it is not yet (about 1.5 s,
        while calls for shapes already built go on)."""
        return self._graphs.get((height, width), lambda: self._build_or_fall_back(height, width))

    def _build_or_fall_back(self, height: int, width: int) -> Run:
        started = time.perf_counter()
        try:
            run = self._build(height, width)
        except Exception:
            if self.fallback is None:
                raise
            log.exception("no %dx%d graph: eager PyTorch runs that shape", height, width)
            return self.fallback
        elapsed = time.perf_counter() - started
        log.info("built a %dx%d graph in %.1f s", height, width, elapsed)
        return run

    def _build(self, height: int, width: int) -> Run:
        raise NotImplementedError

    def _fixed_copy(self, height: int, width: int) -> torch.nn.Module:
        """An fp32 copy of the generator whose noise is a constant for this input size."""
        network = copy.deepcopy(self.generator).float().eval().requires_grad_(False)
        fix_noise(network, height, width)
        return network


class _Eager(_Backend):
    """The generator as it is, in mixed precision where asked (any shape, nothing to build)."""

    def _build(self, height: int, width: int) -> Run:
        device = next(self.generator.parameters()).device

        def run(batch: torch.Tensor) -> torch.Tensor:
            x = batch.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode(), autocast(device, self.precision):  # type: ignore[arg-type]
                return self.generator(x).float()

        return run


class _Compiled(_Backend):
    """torch.compile with the whole graph (no breaks); CUDA graphs on a GPU."""

    def _build(self, height: int, width: int) -> Run:
        network = self._fixed_copy(height, width)
        device = next(self.generator.parameters()).device
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        network = place(network.to(dtype), device)
        mode = "reduce-overhead" if device.type == "cuda" else None
        # Every shape and batch size is a compilation of the same forward code; dynamo's
        # default limit (8) would end a long-running engine's compiling with an error.
        limits = torch._dynamo.config
        limits.recompile_limit = max(limits.recompile_limit, 256)
        limits.accumulated_recompile_limit = max(limits.accumulated_recompile_limit, 4096)
        compiled = torch.compile(network, fullgraph=True, dynamic=False, mode=mode)

        def run(batch: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                x = batch.to(dtype).contiguous(memory_format=torch.channels_last)
                return compiled(x).float().clone()  # CUDA graphs reuse their output memory

        run(torch.zeros(1, 3, height, width, device=device))  # compiles now: failures show here
        return run


def _onnx(network: torch.nn.Module, example: torch.Tensor, axes: tuple[int, ...] = (0,)) -> bytes:
    """The network as an ONNX graph in memory, for inputs shaped as `example` but along
    `axes` (batch 0, height 2, width 3), which may take any size."""
    buffer = io.BytesIO()
    names = {0: "batch", 2: "height", 3: "width"}
    dynamic = {tensor: {axis: names[axis] for axis in axes} for tensor in ("x", "y")}
    with warnings.catch_warnings():  # the tracer's notes on shape checks and folding, per graph
        warnings.simplefilter("ignore")
        _export(network, example, buffer, dynamic)
    return buffer.getvalue()


def _export(
    network: torch.nn.Module, example: torch.Tensor, buffer: io.BytesIO, axes: dict[str, Any]
) -> None:
    torch.onnx.export(
        network,
        (example,),
        buffer,  # type: ignore[arg-type]  # the TorchScript exporter writes to a file object
        dynamo=False,  # the TorchScript exporter: no onnxscript, and it takes a BytesIO
        input_names=["x"],
        output_names=["y"],
        dynamic_axes=axes,
    )


def _kept_or_exported(store: MachineStore | None, name: str, export: Callable[[], bytes]) -> bytes:
    """The graph `name` kept in the store, else `export()`ed now (a second or two) and kept."""
    graph = store.graph(name) if store else None
    if graph is None:
        graph = export()
        if store:
            store.keep_graph(name, graph)
    return graph


def _openvino_config(precision: str, threads: int, streams: int) -> dict[str, Any]:
    """OpenVINO's CPU settings for a model run in `precision` on `threads`, `streams` at once."""
    return {
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": streams,
    }


def _require(package: str) -> Any:
    """The runtime's package, or RuntimeUnavailable when it is not installed."""
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise RuntimeUnavailable(f"{package} is not installed") from exc


def _as_array(batch: torch.Tensor) -> np.ndarray:
    return batch.detach().float().cpu().contiguous().numpy()


class _Exported(_Backend):
    """A runtime of the generator's exported ONNX graph (`package`), running `streams`
    batches at once; the graphs are kept in the store (if any) for the next load."""

    package = ""

    def __init__(
        self,
        generator: UnetGenerator,
        precision: str,
        threads: int,
        fallback: Run,
        store: MachineStore | None,
        streams: int,
    ) -> None:
        super().__init__(generator, precision, threads, fallback)
        self.store, self.streams = store, streams
        self.runtime = _require(self.package)

    def _exported(self, height: int, width: int) -> bytes:
        """The ONNX graph for (height, width): the one kept on disk, else exported now (and
        kept), since exporting takes a second or two."""
        return _kept_or_exported(
            self.store,
            f"{height}x{width}",
            lambda: _onnx(self._fixed_copy(height, width), torch.zeros(1, 3, height, width)),
        )


class _OnnxRuntime(_Exported):
    """ONNX Runtime's CPU provider; concurrent calls share one session, threads split."""

    package = "onnxruntime"

    def _build(self, height: int, width: int) -> Run:
        options = self.runtime.SessionOptions()
        options.intra_op_num_threads = max(1, self.threads // self.streams)
        options.inter_op_num_threads = 1
        graph = self._exported(height, width)
        session = self.runtime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

        def run(batch: torch.Tensor) -> torch.Tensor:
            (output,) = session.run(None, {"x": _as_array(batch)})
            return torch.from_numpy(np.asarray(output))

        return run


class _OpenVino(_Exported):
    """OpenVINO on the CPU: one compiled model per batch size, `streams` requests at once."""

    package = "openvino"

    @cached_property
    def _core(self) -> Any:
        return self.runtime.Core()

    def _build(self, height: int, width: int) -> Run:
        model = self._core.read_model(self._exported(height, width))
        pools: dict[int, queue.SimpleQueue[Any]] = {}
        lock = threading.Lock()

        def requests(batch_size: int) -> queue.SimpleQueue[Any]:
            with lock:
                if batch_size not in pools:
                    pools[batch_size] = self._compile(model, batch_size, height, width)
                return pools[batch_size]

        def run(batch: torch.Tensor) -> torch.Tensor:
            pool = requests(len(batch))
            request = pool.get()  # at most `streams` batches run at once, each on its own
            try:
                output = request.infer({0: _as_array(batch)})[0]
            finally:
                pool.put(request)
            return torch.from_numpy(np.array(output))

        return run

    def _compile(self, model: Any, batch_size: int, height: int, width: int) -> Any:
        shaped = model.clone()
        shaped.reshape({0: [batch_size, 3, height, width]})  # static shapes run fastest
        config = _openvino_config(self.precision, self.threads, self.streams)
        compiled = self._core.compile_model(shaped, "CPU", config)
        pool: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for _ in range(self.streams):
            pool.put(compiled.create_infer_request())
        return pool


class _TensorRT(_Backend):
    """TensorRT through torch_tensorrt on a CUDA GPU: one engine per input size, batches 1-64,
    fp16 kernels where TensorRT finds them faster. (No GPU here: run on a lent GPU machine.)"""

    def __init__(
        self, generator: UnetGenerator, precision: str, threads: int, fallback: Run
    ) -> None:
        super().__init__(generator, precision, threads, fallback)
        self._trt = _require("torch_tensorrt")

    def _build(self, height: int, width: int) -> Run:
        low, usual, high = ((b, 3, height, width) for b in TENSORRT_BATCHES)
        shapes = self._trt.Input(min_shape=low, opt_shape=usual, max_shape=high)
        engine = self._trt.compile(
            self._fixed_copy(height, width),
            ir="dynamo",
            inputs=[shapes],
            enabled_precisions={torch.float32, torch.float16},
        )

        def run(batch: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                return engine(batch.float().contiguous()).float()

        return run


def _backend(
    name: str,
    generator: UnetGenerator,
    device: torch.device,
    threads: int,
    streams: int,
    store: MachineStore | None,
) -> _Backend:
    kind, precision = name.rsplit("-", 1)
    if kind in CPU_ONLY and device.type != "cpu":
        raise RuntimeUnavailable(f"{name} runs on the CPU; this engine runs on {device.type}")
    if (precision == "fp16" or kind in CUDA_ONLY) and device.type != "cuda":
        raise RuntimeUnavailable(f"{name} needs a CUDA device")
    if kind == "eager":
        return _Eager(generator, precision, threads, fallback=None)
    fallback = _Eager(generator, resolve_precision(device), threads, fallback=None)
    if kind == "compile":
        return _Compiled(generator, precision, threads, fallback)
    if kind == "onnxruntime":
        return _OnnxRuntime(generator, precision, threads, fallback, store, streams)
    if kind == "tensorrt":
        return _TensorRT(generator, precision, threads, fallback)
    return _OpenVino(generator, precision, threads, fallback, store, streams)


# ---- the engine's door ---------------------------------------------------------------------
class Pace:
    """How fast a model's calls run against what was measured for it on this machine.

    The measurement (`GeneratorRunner.fastest_batch`) ran `streams` calls at once; a call
    then takes `streams` times the measured milliseconds per image, and no more when fewer
    run. The median of the last `PACE_CALLS` calls at the measured shape, against that, is the
    slowdown: above `SLOW` the model gets less of the machine than when it was measured
    (another model's work beside it, other processes, fewer threads than it was given), and
    the log says so once, and again when it is back to speed.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.expected: dict[tuple[int, int, int], float] = {}  # (H, W, batch): ms per image
        self.slowdown = 1.0
        self._recent: deque[float] = deque(maxlen=PACE_CALLS)
        self._lock = threading.Lock()

    def expect(self, height: int, width: int, batch: int, ms_per_image: float) -> None:
        self.expected[(height, width, batch)] = ms_per_image

    def observe(self, batch: torch.Tensor, seconds: float) -> None:
        """One call's time, compared with what was measured for its shape (if anything)."""
        expected = self.expected.get((batch.shape[-2], batch.shape[-1], len(batch)))
        if expected is None:
            return
        with self._lock:
            self._recent.append(seconds * 1000 / len(batch) / expected)
            if len(self._recent) < PACE_CALLS:
                return
            was_slow = self.slowdown >= SLOW
            self.slowdown = statistics.median(self._recent)
            self._recent.clear()
        if (self.slowdown >= SLOW) != was_slow:
            self._say(expected)

    def _say(self, expected: float) -> None:
        if self.slowdown >= SLOW:
            log.warning(
                "%s runs %.1fx slower than measured on this machine (%.1f ms per image, "
                "measured %.1f with its streams busy): something else has its cores",
                self.label,
                self.slowdown,
                self.slowdown * expected,
                expected,
            )
        else:
            log.info("%s runs at its measured speed again", self.label)


class GeneratorRunner:
    """One generator behind the first runtime that builds, for inputs in [-1, 1] on the
    generator's device; outputs are float32 on that device.

    `probe` (height, width) builds that shape's graph now, so a runtime that cannot be built
    falls back at load rather than at a request. `streams` is how many batches an exported
    runtime runs at once (each on its share of `threads`; 0: two once there are two threads);
    eager and compiled PyTorch run one. With a `store`, what is measured here (the runtime
    chosen, the fastest batch sizes, the exported graphs) is kept for the next load, on
    this machine, of the same model with the same libraries.
    """

    def __init__(
        self,
        generator: UnetGenerator,
        requested: str = AUTO,
        *,
        threads: int = 0,
        streams: int = 0,
        probe: tuple[int, int] | None = None,
        store: MachineStore | None = None,
        label: str = "",
    ) -> None:
        self.device = next(generator.parameters()).device
        check_runtime(requested)
        self.generator, self.store = generator, store
        self.pace = Pace(label or "the generator")
        self.threads = threads or torch_threads()
        streams = streams or default_streams(self.threads)
        order = candidates(requested, self.device)
        settings = {"candidates": order, "threads": self.threads, "streams": streams}
        self._identity = store.identity(_device_name(self.device), **settings) if store else {}
        self._kept = store.read(self._identity) if store else {}
        self.fallbacks: list[str] = []  # why each runtime tried before this one cannot run
        if self._kept.get("runtime") in order:  # what was chosen here before, or else eager
            order = tuple(dict.fromkeys((self._kept["runtime"], order[-1])))
            self.fallbacks = list(self._kept.get("fallbacks", []))
        for name in order:
            try:
                backend = _built(name, generator, self.device, self.threads, streams, probe, store)
            except RuntimeUnavailable as exc:
                log.warning("runtime %s cannot run here, trying the next: %s", name, exc)
                self.fallbacks.append(str(exc))
                continue
            self.name, self._backend = name, backend
            self._keep(runtime=name, fallbacks=self.fallbacks)
            return
        raise AssertionError("eager PyTorch always builds")  # the last candidate

    @property
    def streams(self) -> int:
        return self._backend.streams

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        started = time.perf_counter()
        output = self._backend(batch).to(batch.device)
        self.pace.observe(batch, time.perf_counter() - started)
        return output

    def fastest_batch(self, height: int, width: int, repeats: int = 5) -> int:
        """The batch size with the fewest milliseconds per image on this device: measured
        once per process for each runtime, network shape and input size, and kept in the
        store (if any) for the next process."""
        key = (self.name, repr(self.generator.cfg), height, width, self.threads, self.streams)
        shape = f"{height}x{width}"
        with _MEASURED_LOCK:
            if key not in _MEASURED:
                kept = self._kept.get("batches", {}).get(shape)
                if kept is None or kept.get("choices") != list(self.batch_choices):
                    kept = self._measure_batches(height, width, repeats)
                _MEASURED[key] = kept
            # What a twin network (same shape) measured in this process is kept for this
            # model too: the next process may load this one first.
            measured = _MEASURED[key]
            self._keep(batches={**self._kept.get("batches", {}), shape: measured})
            chosen = int(measured["chosen"])
            ms = measured["ms_per_image"].get(str(chosen))
            if ms:  # a call, with every stream busy, takes `streams` times the measured time
                self.pace.expect(height, width, chosen, ms * self.streams)
            return chosen

    @property
    def batch_choices(self) -> tuple[int, ...]:
        return BATCH_CHOICES[self.device.type]

    def _keep(self, **measured: Any) -> None:
        """Remember `measured` beside what is kept for this model here (in the store)."""
        if self.store is None or all(self._kept.get(k) == v for k, v in measured.items()):
            return
        self._kept = {**self._kept, **measured}
        self.store.write(self._identity, self._kept)

    def _measure_batches(self, height: int, width: int, repeats: int) -> dict[str, Any]:
        """Per batch size, `streams` callers at once (as the service runs them): the batch
        whose images come out fastest, and each size's milliseconds per image. Sizes take
        turns, round after round, so that a passing load or a warming cache does not favour
        one of them."""
        log.info("%s at %dx%d: timing batch sizes (once on this machine)", self.name, height, width)
        batches: dict[int, torch.Tensor] = {}
        for size in self.batch_choices:  # build and warm each size once
            batch = torch.zeros(size, 3, height, width, device=self.device)
            try:
                self._concurrently(batch)
            except (RuntimeError, MemoryError) as exc:  # out of memory: larger ones would be too
                log.info("batch %d did not run (%s); measuring stops there", size, exc)
                break
            batches[size] = batch
        choices = list(self.batch_choices)
        if not batches:  # not even one image ran: the error will say why at the first request
            return {"chosen": 1, "choices": choices, "ms_per_image": {}}
        rounds: dict[int, list[float]] = {size: [] for size in batches}
        for _ in range(repeats):
            for size, batch in batches.items():
                seconds = wall_seconds(lambda: self._concurrently(batch), self.device)  # noqa: B023
                rounds[size].append(seconds / (size * self.streams))
        per_image = {size: statistics.median(times) for size, times in rounds.items()}
        fastest = min(per_image.values())
        chosen = min(s for s, t in per_image.items() if t <= fastest * (1 + BATCH_TOLERANCE))
        figures = ", ".join(f"{s}: {t * 1000:.1f}" for s, t in per_image.items())
        log.info("%s at %dx%d, ms per image by batch size: %s", self.name, height, width, figures)
        log.info("%s at %dx%d: batch size %d chosen", self.name, height, width, chosen)
        ms = {str(size): round(t * 1000, 2) for size, t in per_image.items()}
        return {"chosen": chosen, "choices": choices, "ms_per_image": ms}

    def _concurrently(self, batch: torch.Tensor) -> None:
        """Run `batch` once on each stream at the same time."""
        if self.streams == 1:
            self(batch)
            return
        with ThreadPoolExecutor(self.streams) as pool:
            list(pool.map(self, [batch] * self.streams))


class DetailRunner:
    """A model's detail network (`DetailEnhancer`) beside a generator that runs on
    `generator_runtime`: its convolutions (`paint`, nearly all its time) on OpenVINO when
    the generator runs there, in the same precision, else in eager PyTorch in the device's.
    The convolutions hold no noise, so one OpenVINO graph with free height and width serves
    every size (a new size costs milliseconds, not an export); it is kept in the store.

    On a 2-core AMD EPYC with AVX2 only, for a 1024x768 answer: the convolutions in 124 ms on
    OpenVINO fp32 against 201 eager (the whole network 165 against 245), answers within a
    level of 255 of eager's.
    """

    def __init__(
        self,
        enhancer: DetailEnhancer,
        generator_runtime: str,
        *,
        threads: int = 0,
        store: MachineStore | None = None,
    ) -> None:
        self.enhancer = enhancer
        self.device = next(enhancer.parameters()).device
        self.threads = threads or torch_threads()
        self.precision = resolve_precision(self.device)  # eager's: bf16 where native
        self.name = f"eager-{self.precision}"
        self.fallbacks: list[str] = []
        self._paint: Run = self._eager
        kind, precision = generator_runtime.rsplit("-", 1)
        if kind != "openvino":
            return
        try:
            self._paint = self._openvino(precision, store)
            self.name = generator_runtime
        except Exception as exc:  # a runtime that fails here: eager PyTorch paints
            log.warning("the detail network runs in eager PyTorch: %s", exc)
            why = f"{generator_runtime}: {type(exc).__name__}: {str(exc)[:200]}"
            self.fallbacks.append(str(exc) if isinstance(exc, RuntimeUnavailable) else why)

    def __call__(self, picture: torch.Tensor, segmentation: torch.Tensor) -> torch.Tensor:
        """As `DetailEnhancer.forward`, in float32."""
        with torch.inference_mode():
            enlarged, folded = self.enhancer.fold(picture.float(), segmentation.float())
            painted = self._paint(folded).to(self.device)
            return self.enhancer.unfold(painted.float(), enlarged, picture.shape[-2:])

    def _eager(self, folded: torch.Tensor) -> torch.Tensor:
        with autocast(self.device, self.precision):
            return self.enhancer.paint(folded).float()

    def _openvino(self, precision: str, store: MachineStore | None) -> Run:
        runtime = _require("openvino")
        example = torch.zeros(1, self.enhancer.folded_channels, 16, 16)

        def export() -> bytes:  # an fp32 copy: the network itself may be in another dtype
            return _onnx(copy.deepcopy(self.enhancer).float().painter, example, axes=(0, 2, 3))

        graph = _kept_or_exported(store, "detail", export)
        core = runtime.Core()
        config = _openvino_config(precision, self.threads, streams=1)
        compiled = core.compile_model(core.read_model(graph), "CPU", config)
        idle: queue.SimpleQueue[Any] = queue.SimpleQueue()  # one request per concurrent call

        def run(folded: torch.Tensor) -> torch.Tensor:
            try:
                request = idle.get_nowait()
            except queue.Empty:
                request = compiled.create_infer_request()
            try:
                output = request.infer({0: _as_array(folded)})[0]
            finally:
                idle.put(request)
            return torch.from_numpy(np.array(output))

        run(example)  # failures show at load
        return run


_MEASURED: dict[tuple[Any, ...], dict[str, Any]] = {}
_MEASURED_LOCK = threading.Lock()


def _built(
    name: str,
    generator: UnetGenerator,
    device: torch.device,
    threads: int,
    streams: int,
    probe: tuple[int, int] | None,
    store: MachineStore | None,
) -> _Backend:
    """The backend with its probe graph built and run once; any failure is RuntimeUnavailable."""
    try:
        backend = _backend(name, generator, device, threads, streams, store)
        if probe is not None:
            backend(torch.zeros(1, 3, *probe, device=device))
        return backend
    except RuntimeUnavailable:
        raise
    except Exception as exc:  # an exporter or runtime that fails on this machine
        raise RuntimeUnavailable(f"{name}: {type(exc).__name__}: {str(exc)[:200]}") from exc


def _device_name(device: torch.device) -> str:
    """'cpu', or the GPU's name and compute capability: what its measurements depend on."""
    if device.type != "cuda":
        return device.type
    major, minor = torch.cuda.get_device_capability(device)
    return f"{torch.cuda.get_device_name(device)} sm{major}{minor}"


def wall_seconds(call: Callable[[], object], device: torch.device) -> float:
    """Seconds one `call` takes (waiting for the GPU to finish)."""
    started = time.perf_counter()
    call()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started
