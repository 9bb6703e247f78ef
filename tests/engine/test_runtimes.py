"""Runtimes: every exported runtime gives what eager PyTorch gives, on any shape, and one that
cannot run falls back to eager with its reason; the detail network runs beside the generator."""

from __future__ import annotations

import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

import engine.device
from engine import runtimes
from engine.device import resolve_precision
from engine.machine import MachineStore
from engine.nets import EnhancerConfig, GeneratorConfig, UnetGenerator, fix_noise
from engine.runtimes import DetailRunner, GeneratorRunner, RuntimeInfo
from tests.conftest import random_enhancer

CPU = torch.device("cpu")


def tiny_generator() -> UnetGenerator:
    """A small generator with every part the bundled ones have, noise made visible."""
    torch.manual_seed(0)
    config = GeneratorConfig(ngf=4, depth=5, upsample="bilinear", noise=True, input_skip=True)
    generator = UnetGenerator(config).eval()
    with torch.no_grad():
        for name, parameter in generator.named_parameters():
            if name.endswith("strength"):
                parameter.fill_(0.5)
    return generator


def inputs(batch: int, height: int, width: int, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, height, width, generator=generator) * 2 - 1


def eager(generator: UnetGenerator, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return generator(x)


def test_fixed_noise_leaves_the_output_as_it_was() -> None:
    generator = tiny_generator()
    x = inputs(2, 64, 96)
    with torch.no_grad():
        before = generator(x)
        fix_noise(generator, 64, 96)
        assert torch.equal(generator(x), before)
        other = torch.rand(1, 3, 32, 32) * 2 - 1  # another size draws its own field
        assert generator(other).shape == (1, 3, 32, 32)
    noise_layers = [m for m in generator.modules() if hasattr(m, "fixed")]
    assert noise_layers and all(m.fixed is not None for m in noise_layers)


@pytest.mark.parametrize("runtime", ["onnxruntime-fp32", "openvino-fp32"])
def test_an_exported_runtime_gives_the_eager_output_on_every_shape(runtime: str) -> None:
    generator = tiny_generator()
    runner = GeneratorRunner(generator, runtime, threads=1, probe=(64, 96))
    assert runner.name == runtime and not runner.fallbacks
    for batch, height, width in ((2, 64, 96), (3, 64, 96), (1, 32, 64)):  # new batch, new shape
        x = inputs(batch, height, width)
        output = runner(x)
        assert output.shape == x.shape and output.dtype == torch.float32
        assert float((output - eager(generator, x)).abs().max()) < 1e-3  # fp32 against fp32


def test_openvino_streams_run_concurrent_calls_each_on_its_own_input() -> None:
    generator = tiny_generator()
    runner = GeneratorRunner(generator, "openvino-fp32", threads=2, streams=2)
    batches = [inputs(1, 32, 32, seed) for seed in range(6)]
    with ThreadPoolExecutor(3) as pool:
        outputs = list(pool.map(runner, batches))
    for x, output in zip(batches, outputs, strict=True):
        assert float((output - eager(generator, x)).abs().max()) < 1e-3
    assert runner.streams == 2


def eager_runtime(cpu_bf16: bool) -> str:
    """The eager runtime a CPU falls back to: bf16 where it is native, else fp32."""
    return "eager-bf16" if cpu_bf16 else "eager-fp32"


def test_auto_takes_openvino_on_the_cpu_and_falls_back_when_it_is_missing(
    monkeypatch: pytest.MonkeyPatch, cpu_bf16: bool
) -> None:
    native = ["openvino-bf16"] if cpu_bf16 else []  # where bf16 is native, OpenVINO's first
    assert (
        GeneratorRunner(tiny_generator(), probe=(32, 32)).name == (native or ["openvino-fp32"])[0]
    )
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` now fails
    runner = GeneratorRunner(tiny_generator(), probe=(32, 32))
    assert runner.name == "onnxruntime-fp32"
    assert runner.fallbacks == ["openvino is not installed"] * (len(native) + 1)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    runner = GeneratorRunner(tiny_generator(), "onnxruntime-fp32", probe=(32, 32))
    eager_name = eager_runtime(cpu_bf16)
    assert runner.name == eager_name
    info = RuntimeInfo(runner.name, 1, runner.streams, tuple(runner.fallbacks))
    assert info.describe() == f"{eager_name}, batch 1 (instead of onnxruntime is not installed)"


def test_a_runtime_this_device_cannot_run_falls_back_to_eager(cpu_bf16: bool) -> None:
    runner = GeneratorRunner(tiny_generator(), "eager-fp16", probe=(32, 32))  # fp16: CUDA only
    assert runner.name == eager_runtime(cpu_bf16)
    assert "needs a CUDA device" in runner.fallbacks[0]


def test_the_cpu_precision_follows_the_cpu_and_onednn_cap(
    monkeypatch: pytest.MonkeyPatch, cpu_bf16: bool
) -> None:
    assert resolve_precision(CPU) == ("bf16" if cpu_bf16 else "fp32")
    assert resolve_precision(CPU, "fp32") == "fp32"  # asked for: kept on either CPU
    with pytest.raises(ValueError, match="needs a CUDA device"):
        resolve_precision(CPU, "fp16")


@pytest.mark.parametrize("cap", ["AVX2", "avx512_core"])
def test_a_onednn_cap_below_bf16_makes_bf16_emulated(
    monkeypatch: pytest.MonkeyPatch, cap: str
) -> None:
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)  # how an AVX-512 machine plays an AVX2 one
    assert not engine.device.cpu_has_fast_bf16()
    assert resolve_precision(CPU) == "fp32"


def test_a_shape_whose_graph_fails_runs_eager(
    monkeypatch: pytest.MonkeyPatch, cpu_bf16: bool
) -> None:
    generator = tiny_generator()
    runner = GeneratorRunner(generator, "onnxruntime-fp32", threads=1, probe=(32, 32))

    def broken(self, height: int, width: int):
        raise RuntimeError("exporter failed")

    monkeypatch.setattr(runtimes._OnnxRuntime, "_build", broken)
    x = inputs(1, 64, 32)
    by_eager = GeneratorRunner(generator, eager_runtime(cpu_bf16))(x)  # in the CPU's precision
    assert torch.allclose(runner(x), by_eager, atol=1e-5)  # answered, by eager
    assert runner.name == "onnxruntime-fp32"  # the shapes already built keep their graph


def test_an_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="runtime must be auto or one of"):
        GeneratorRunner(tiny_generator(), "tensorrt")


def test_the_batch_size_is_measured_once_and_is_one_of_the_choices() -> None:
    runner = GeneratorRunner(tiny_generator(), "eager-fp32")
    chosen = runner.fastest_batch(32, 32)
    assert chosen in runtimes.BATCH_CHOICES["cpu"]
    other = GeneratorRunner(tiny_generator(), "eager-fp32")  # same network, same shape
    assert other.fastest_batch(32, 32) == chosen


def test_a_new_shape_builds_while_built_shapes_keep_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generator = tiny_generator()
    runner = GeneratorRunner(generator, "onnxruntime-fp32", threads=1, probe=(32, 32))
    building, release = threading.Event(), threading.Event()
    build = runtimes._OnnxRuntime._build

    def slow_build(self, height: int, width: int):
        building.set()
        assert release.wait(20)
        return build(self, height, width)

    monkeypatch.setattr(runtimes._OnnxRuntime, "_build", slow_build)
    with ThreadPoolExecutor(1) as pool:
        tall = pool.submit(runner, inputs(1, 64, 32))
        assert building.wait(20)
        small = inputs(1, 32, 32)
        assert torch.allclose(runner(small), eager(generator, small), atol=1e-3)  # not blocked
        release.set()
        assert tall.result(20).shape == (1, 3, 64, 32)


def test_a_model_slower_than_measured_says_so_and_when_it_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="engine.runtimes")
    runner = GeneratorRunner(tiny_generator(), "eager-fp32", label="tiny v1")
    pace, batch = runner.pace, inputs(2, 32, 32)
    pace.expect(32, 32, 2, ms_per_image=10.0)  # a call of 2 images: 20 ms when as measured
    for seconds in [0.020] * runtimes.PACE_CALLS:
        pace.observe(batch, seconds)
    assert pace.slowdown == pytest.approx(1.0) and "slower" not in caplog.text
    for seconds in [0.020] * 10 + [0.045] * (runtimes.PACE_CALLS - 10):  # most calls 2.25x
        pace.observe(batch, seconds)
    assert pace.slowdown == pytest.approx(2.25)
    assert "tiny v1 runs 2.2x slower than measured on this machine" in caplog.text
    info = RuntimeInfo(runner.name, 2, 1, slowdown=pace.slowdown)
    assert info.describe() == "eager-fp32, batch 2, 2.2x slower than measured"
    pace.observe(inputs(1, 32, 32), 1.0)  # another batch size: nothing measured to compare
    for seconds in [0.021] * runtimes.PACE_CALLS:
        pace.observe(batch, seconds)
    assert pace.slowdown == pytest.approx(1.05)
    assert "tiny v1 runs at its measured speed again" in caplog.text


def test_the_measured_batch_sets_the_pace_expected(tmp_path) -> None:
    runner = GeneratorRunner(tiny_generator(), "eager-fp32", label="tiny v1")
    chosen = runner.fastest_batch(32, 32, repeats=1)
    (expected,) = runner.pace.expected.items()
    assert expected[0] == (32, 32, chosen) and expected[1] > 0


# ---- the detail network ------------------------------------------------------------------------
def detail_inputs(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A generator's picture and a segmentation twice and three times its size."""
    generator = torch.Generator().manual_seed(2)
    picture = torch.rand(1, 3, height, width, generator=generator) * 2 - 1
    segmentation = torch.rand(1, 3, 2 * height, 2 * width, generator=generator) * 2 - 1
    return picture, segmentation


def test_the_detail_network_runs_on_openvino_beside_it_with_one_graph_for_every_size(
    tmp_path,
) -> None:
    enhancer = random_enhancer(EnhancerConfig(channels=8, blocks=1))
    assert enhancer is not None
    store = MachineStore(tmp_path, "model-a")
    runner = DetailRunner(enhancer, "openvino-fp32", threads=1, store=store)
    assert runner.name == "openvino-fp32" and store.graph("detail") is not None
    for height, width in ((16, 24), (40, 28)):  # sizes the graph never saw exported
        picture, segmentation = detail_inputs(height, width)
        with torch.no_grad():
            expected = enhancer(picture, segmentation)
        assert torch.allclose(runner(picture, segmentation), expected, atol=1e-4)


@pytest.mark.parametrize("generator_runtime", ["onnxruntime-fp32", "eager-fp32", "compile-fp32"])
def test_beside_another_runtime_the_detail_network_runs_eager(
    generator_runtime: str, cpu_bf16: bool
) -> None:
    enhancer = random_enhancer(EnhancerConfig(channels=8, blocks=1))
    assert enhancer is not None
    runner = DetailRunner(enhancer, generator_runtime, threads=1)
    assert runner.name == eager_runtime(cpu_bf16) and not runner.fallbacks


def test_a_detail_network_openvino_cannot_build_runs_eager_and_says_why(
    monkeypatch: pytest.MonkeyPatch, cpu_bf16: bool
) -> None:
    enhancer = random_enhancer(EnhancerConfig(channels=8, blocks=1))
    assert enhancer is not None
    monkeypatch.setitem(sys.modules, "openvino", None)
    runner = DetailRunner(enhancer, "openvino-fp32", threads=1)
    assert runner.name == eager_runtime(cpu_bf16)
    assert runner.fallbacks == ["openvino is not installed"]
    picture, segmentation = detail_inputs(8, 8)
    with torch.no_grad():
        expected = enhancer(picture, segmentation)
    tolerance = 0.05 if cpu_bf16 else 1e-5  # eager paints in bf16 where it is native
    assert torch.allclose(runner(picture, segmentation), expected, atol=tolerance)
