"""One model = one file: generator weights (and the detail network's, when it has one),
network and segmenter configs, and metadata.

The file is a plain `torch.save` dict of tensors and builtins, read with
`weights_only=True`, so loading a model never runs code from the file. Its spec alone is
read without torch (`header`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

from engine.atomic import atomic_torch_save
from engine.device import place
from engine.errors import ModelError
from engine.nets import DetailEnhancer, UnetGenerator
from engine.specs import ModelSpec

from .header import FORMAT, FORMAT_VERSION, check_payload, spec_of


@dataclass
class Model:
    """A loaded model, in eval mode on its device."""

    spec: ModelSpec
    generator: UnetGenerator
    path: Path | None = None
    enhancer: DetailEnhancer | None = None  # paints results larger than spec.size


def save_model(
    path: Path,
    spec: ModelSpec,
    generator: UnetGenerator,
    enhancer: DetailEnhancer | None = None,
    dtype: torch.dtype = torch.float16,
) -> None:
    """Write atomically (temp file + rename); weights stored in `dtype` to save space."""
    if (enhancer is None) != (spec.enhancer is None):
        raise ValueError("a model's spec names a detail network exactly when it has one")
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, **spec.to_dict()}
    payload["state_dict"] = _stored(generator, dtype)
    if enhancer is not None:
        payload["enhancer_state_dict"] = _stored(enhancer, dtype)
    atomic_torch_save(payload, path)


def _stored(network: torch.nn.Module, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {
        key: value.detach().to("cpu", dtype if value.is_floating_point() else value.dtype)
        for key, value in network.state_dict().items()
    }


def _read(path: Path) -> dict[str, Any]:
    """The raw payload, memory-mapped: the weights are read as they are used."""
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # torch raises many types for foreign or damaged files
        raise ModelError(
            f"{path.name} is not a beautynet model file ({exc.__class__.__name__})"
        ) from exc
    return check_payload(payload, path)


def load_model(path: Path, device: torch.device) -> Model:
    """Load a model file onto `device`, in eval mode (no dropout noise), channels-last."""
    payload = _read(path)
    spec = spec_of(payload, path)
    generator = _loaded(UnetGenerator(spec.generator), payload, "state_dict", path, device)
    enhancer = None
    if spec.enhancer is not None:
        enhancer = DetailEnhancer(spec.enhancer)
        enhancer = _loaded(enhancer, payload, "enhancer_state_dict", path, device)
    return Model(spec, generator, path, enhancer)


NetworkT = TypeVar("NetworkT", bound=torch.nn.Module)


def _loaded(
    network: NetworkT, payload: dict[str, Any], key: str, path: Path, device: torch.device
) -> NetworkT:
    """`network` with the weights stored under `key`, frozen, in eval mode on `device`."""
    try:
        network.load_state_dict(payload[key], strict=True)
    except (KeyError, RuntimeError) as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else repr(exc))
        raise ModelError(f"{path.name} does not match its config: {detail[:300]}") from exc
    network = place(network, device).eval()
    network.requires_grad_(False)
    return network
