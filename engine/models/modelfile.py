"""One model = one file: generator weights, network and segmenter configs, and metadata.

The file is a plain `torch.save` dict of tensors and builtins, read with
`weights_only=True`, so loading a model never runs code from the file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.atomic import atomic_torch_save
from engine.device import place
from engine.errors import ModelError
from engine.names import check_name, check_version
from engine.nets import GeneratorConfig, UnetGenerator
from engine.segment import (
    SegmenterConfig,
    segmenter_config_from_dict,
    segmenter_label,
)

FORMAT = "beautynet-model"
FORMAT_VERSION = 1
MODEL_SUFFIX = ".pt"


@dataclass(frozen=True)
class ModelMeta:
    """Who the model is: shown in listings and model cards."""

    name: str
    version: int = 1
    description: str = ""
    training_data: str = ""
    licence: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    created: str = ""
    trained_by: str = ""

    def __post_init__(self) -> None:
        check_name(self.name, "model")
        check_version(self.version)


@dataclass(frozen=True)
class ModelSpec:
    """Everything about a model except its weights."""

    meta: ModelMeta
    generator: GeneratorConfig
    segmenter: SegmenterConfig
    size: int = 256  # the long side of the images the model was trained on

    @property
    def label(self) -> str:
        return f"{self.meta.name} v{self.meta.version}"

    @property
    def segmenter_label(self) -> str:
        """'clusters k=7' or 'edges'."""
        return segmenter_label(self.segmenter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "meta": asdict(self.meta),
            "generator": self.generator.to_dict(),
            "segmenter": self.segmenter.to_dict(),
            "size": self.size,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        return cls(
            meta=ModelMeta(**data["meta"]),
            generator=GeneratorConfig.from_dict(data["generator"]),
            segmenter=segmenter_config_from_dict(data["segmenter"]),
            size=int(data["size"]),
        )


@dataclass
class Model:
    """A loaded model, in eval mode on its device."""

    spec: ModelSpec
    generator: UnetGenerator
    path: Path | None = None


def save_model(
    path: Path, spec: ModelSpec, generator: UnetGenerator, dtype: torch.dtype = torch.float16
) -> None:
    """Write atomically (temp file + rename); weights stored in `dtype` to save space."""
    state = {
        key: value.detach().to("cpu", dtype if value.is_floating_point() else value.dtype)
        for key, value in generator.state_dict().items()
    }
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, **spec.to_dict()}
    payload["state_dict"] = state
    atomic_torch_save(payload, path)


def _read(path: Path) -> dict[str, Any]:
    """The raw payload, memory-mapped so that reading a spec does not load the weights."""
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # torch raises many types for foreign or damaged files
        raise ModelError(
            f"{path.name} is not a beautynet model file ({exc.__class__.__name__})"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"{path.name} is not a beautynet model file")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{path.name} has format version {payload.get('format_version')}, "
            f"this beautynet reads version {FORMAT_VERSION}"
        )
    return payload


def read_spec(path: Path) -> ModelSpec:
    """The spec stored in a model file, without loading its weights."""
    payload = _read(path)
    try:
        return ModelSpec.from_dict(payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path.name} has an invalid config: {exc}") from exc


def load_model(path: Path, device: torch.device) -> Model:
    """Load a model file onto `device`, in eval mode (no dropout noise), channels-last."""
    payload = _read(path)
    spec = read_spec(path)
    generator = UnetGenerator(spec.generator)
    try:
        generator.load_state_dict(payload["state_dict"], strict=True)
    except (KeyError, RuntimeError) as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else repr(exc))
        raise ModelError(f"{path.name} does not match its config: {detail[:300]}") from exc
    generator = place(generator, device).eval()
    generator.requires_grad_(False)
    return Model(spec, generator, path)
