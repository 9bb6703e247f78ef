"""Runtimes: the generator exported (ONNX Runtime, OpenVINO) gives what eager PyTorch gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.nets import GeneratorConfig, UnetGenerator, fix_noise
from engine.runtimes import Shape, build_runtime


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


def inputs(shape: Shape) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.rand(shape.batch, 3, shape.height, shape.width, generator=generator) * 2 - 1


def test_fixed_noise_leaves_the_output_as_it_was() -> None:
    generator = tiny_generator()
    x = inputs(Shape(2, 64, 96))
    with torch.no_grad():
        before = generator(x)
        fix_noise(generator, 64, 96)
        assert torch.equal(generator(x), before)
        other = torch.rand(1, 3, 32, 32) * 2 - 1  # another size draws its own field
        assert generator(other).shape == (1, 3, 32, 32)
    noise_layers = [m for m in generator.modules() if hasattr(m, "fixed")]
    assert noise_layers and all(m.fixed is not None for m in noise_layers)


@pytest.mark.parametrize("runtime", ["onnxruntime-fp32", "openvino-fp32"])
def test_an_exported_runtime_gives_the_eager_output(runtime: str, tmp_path: Path) -> None:
    shape = Shape(2, 64, 96)
    generator = tiny_generator()
    x = inputs(shape)
    with torch.no_grad():
        expected = generator(x)
    output = build_runtime(runtime, generator, shape, threads=1, work_dir=tmp_path)(x)
    assert output.shape == expected.shape
    assert float((output - expected).abs().max()) < 1e-3  # fp32 against fp32
    eager = build_runtime("eager-fp32", generator, shape, threads=1, work_dir=tmp_path)(x)
    assert float((eager - expected).abs().max()) < 1e-4


def test_an_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="runtime must be one of"):
        build_runtime("tensorrt", tiny_generator(), Shape(1, 32, 32), 1, Path("unused"))
