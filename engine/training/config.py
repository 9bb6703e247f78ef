"""Training hyper-parameters: one dataclass, saved inside every checkpoint."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.nets import DiscriminatorConfig, GeneratorConfig, default_depth
from engine.segment import ClustersConfig, EdgesConfig, SegmenterConfig, segmenter_config_from_dict

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(text: str) -> float:
    """'2h', '90m', '1h30m', '45s' or plain seconds -> seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    match = _DURATION.fullmatch(text)
    if not text or not match or not any(match.groups()):
        raise ValueError(f"duration must look like 2h, 90m, 1h30m or 45s, got {text!r}")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (pix2pix defaults from Isola et al. 2017)."""

    model_name: str
    segmenter: SegmenterConfig = field(default_factory=ClustersConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    size: int = 256
    batch_size: int = 1
    epochs: int | None = 100
    time_budget_s: float | None = None
    epoch_samples: int = 256  # random crops per epoch: the dataset is small, crops are many
    lr: float = 2e-4
    beta1: float = 0.5
    l1_weight: float = 100.0
    val_fraction: float = 0.1
    min_crop_fraction: float = 0.35  # smallest crop side, relative to the image's short side
    checkpoint_interval_s: float = 300.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs is None and self.time_budget_s is None:
            raise ValueError("give epochs or time_budget_s")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.size % self.generator.multiple:
            raise ValueError(
                f"size must be a multiple of {self.generator.multiple} (2**depth), got {self.size}"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["segmenter"] = self.segmenter.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        data["segmenter"] = segmenter_config_from_dict(data["segmenter"])
        data["generator"] = GeneratorConfig.from_dict(data["generator"])
        data["discriminator"] = DiscriminatorConfig.from_dict(data["discriminator"])
        return cls(**data)


@dataclass(frozen=True)
class TrainDefaults:
    """Network size and run length for trainings started without a full config (bot, service)."""

    ngf: int = 64
    ndf: int = 64
    size: int = 256
    epochs: int = 100
    epoch_samples: int = 256


def make_train_config(
    name: str,
    segmenter: str,
    k: int,
    defaults: TrainDefaults,
    time_budget: str | None = None,
    **overrides: Any,
) -> TrainConfig:
    """A TrainConfig from a user's choices; a time budget replaces the epoch count.

    ValueError names the bad argument (the segmenter kind, the time budget, ...).
    """
    if segmenter not in ("clusters", "edges"):
        raise ValueError(f"segmenter must be clusters or edges, got {segmenter!r}")
    try:
        budget = parse_duration(time_budget) if time_budget else None
    except ValueError as exc:
        raise ValueError(f"time budget: {exc}") from exc
    depth = overrides.pop("depth", None) or default_depth(defaults.size)
    return TrainConfig(
        model_name=name,
        segmenter=ClustersConfig(k=k) if segmenter == "clusters" else EdgesConfig(),
        generator=GeneratorConfig(ngf=defaults.ngf, depth=depth),
        discriminator=DiscriminatorConfig(ndf=defaults.ndf),
        size=defaults.size,
        epochs=None if budget else defaults.epochs,
        time_budget_s=budget,
        epoch_samples=defaults.epoch_samples,
        **overrides,
    )
