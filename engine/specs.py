"""What a model file says about its model, apart from the weights: the generator's and the
segmenter's configs and the metadata (stored in every model file, and read without torch, so
that listing the models is quick)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from engine.names import check_name, check_version

# ---- the generator ----------------------------------------------------------------------
NormKind = Literal["batch", "instance"]
UpsampleKind = Literal["transpose", "nearest", "bilinear", "pixelshuffle"]
UPSAMPLE_KINDS: tuple[UpsampleKind, ...] = ("transpose", "nearest", "bilinear", "pixelshuffle")
RESIZE_KINDS: tuple[UpsampleKind, ...] = ("nearest", "bilinear")  # a resize, then a convolution
# Model files written before `upsample` was stored were all made with transposed convolutions.
LEGACY_UPSAMPLE: UpsampleKind = "transpose"


@dataclass(frozen=True)
class GeneratorConfig:
    """Hyper-parameters of the generator; stored inside every model file."""

    ngf: int = 64
    depth: int = 8
    in_channels: int = 3
    out_channels: int = 3
    norm: NormKind = "instance"
    dropout: float = 0.5
    upsample: UpsampleKind = "nearest"
    noise: bool = False
    input_skip: bool = False  # the last convolution also sees the input at full resolution

    def __post_init__(self) -> None:
        if self.ngf < 1:
            raise ValueError(f"ngf must be >= 1, got {self.ngf}")
        if not 5 <= self.depth <= 10:
            raise ValueError(f"depth must be between 5 and 10, got {self.depth}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.upsample not in UPSAMPLE_KINDS:
            raise ValueError(f"upsample must be one of {UPSAMPLE_KINDS}, got {self.upsample!r}")
        if self.input_skip and self.upsample not in RESIZE_KINDS:
            raise ValueError(f"input_skip needs upsample {' or '.join(RESIZE_KINDS)}")

    @property
    def multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return 2**self.depth

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        return cls(**{"upsample": LEGACY_UPSAMPLE, "noise": False, "input_skip": False, **data})


# ---- the detail network (issue 36) ------------------------------------------------------
ENHANCER_SEGMENTATIONS = ("redrawn", "enlarged", "traced")


@dataclass(frozen=True)
class EnhancerConfig:
    """Hyper-parameters of the detail network that paints a result larger than the
    generator's: from the generator's picture enlarged and the segmentation at the result's
    size, texture finer than the generator's own (stored in model files that have one)."""

    channels: int = 32
    blocks: int = 2  # residual blocks of two 3x3 convolutions, at half the result's size
    max_size: int = 1024  # the longest side it was trained to paint
    # What it sees of the segmentation: "redrawn" at the result's size (sharp region borders;
    # for edges, Canny there finds finer edges than the generator drew), or the generator's
    # own, "enlarged" (the lines the generator painted, and cheaper), or for edges that map
    # "traced" one pixel wide at the result's size (lines as sharp as redrawn ones, where the
    # generator painted them: redrawn edges lie a pixel or two beside, and the network drew
    # both, as parallel echoes).
    segmentation: str = "redrawn"

    def __post_init__(self) -> None:
        if self.segmentation not in ENHANCER_SEGMENTATIONS:
            raise ValueError(
                f"segmentation must be one of {', '.join(ENHANCER_SEGMENTATIONS)}, "
                f"got {self.segmentation!r}"
            )
        if not 4 <= self.channels <= 256:
            raise ValueError(f"channels must be between 4 and 256, got {self.channels}")
        if not 1 <= self.blocks <= 16:
            raise ValueError(f"blocks must be between 1 and 16, got {self.blocks}")
        if self.max_size < 64:
            raise ValueError(f"max_size must be >= 64, got {self.max_size}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- the segmenter ----------------------------------------------------------------------
MAX_K = 32
SEGMENTER_KINDS = ("clusters", "edges")


@dataclass(frozen=True)
class ClustersConfig:
    """Parameters of the clusters segmenter; stored inside every model file."""

    kind: Literal["clusters"] = "clusters"
    k: int = 7
    blur_sigma: float = 0.0
    sample_pixels: int = 2048
    iterations: int = 10
    refine_iterations: int = 1  # Lloyd steps on all pixels after fitting the subsample
    seed: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.k <= MAX_K:
            raise ValueError(f"k must be between 2 and {MAX_K}, got {self.k}")
        if self.blur_sigma < 0:
            raise ValueError(f"blur_sigma must be >= 0, got {self.blur_sigma}")
        if self.sample_pixels < self.k:
            raise ValueError(f"sample_pixels must be >= k, got {self.sample_pixels}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EdgesConfig:
    """Parameters of the edges segmenter; stored inside every model file."""

    kind: Literal["edges"] = "edges"
    sigma: float = 1.5
    low: float = 0.08  # hysteresis thresholds, as fractions of the image's strongest gradient
    high: float = 0.2

    def __post_init__(self) -> None:
        if self.sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {self.sigma}")
        if not 0 < self.low <= self.high < 1:
            raise ValueError(f"need 0 < low <= high < 1, got low={self.low} high={self.high}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SegmenterConfig = ClustersConfig | EdgesConfig


def segmenter_config_from_dict(data: dict[str, Any]) -> SegmenterConfig:
    """Rebuild a segmenter config saved with `to_dict()`."""
    kind = data.get("kind")
    if kind == "clusters":
        return ClustersConfig(**data)
    if kind == "edges":  # files from before exact hysteresis bounded its steps
        return EdgesConfig(**{k: v for k, v in data.items() if k != "max_hysteresis_steps"})
    raise ValueError(f"segmenter kind must be one of {SEGMENTER_KINDS}, got {kind!r}")


def segmenter_label(config: SegmenterConfig) -> str:
    """'clusters k=7' or 'edges': how listings and records name a segmenter."""
    return f"clusters k={config.k}" if isinstance(config, ClustersConfig) else config.kind


# ---- the model ------------------------------------------------------------------------------
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
    enhancer: EnhancerConfig | None = None  # paints results larger than `size`, if any

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
            "enhancer": None if self.enhancer is None else self.enhancer.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        return cls(
            meta=ModelMeta(**data["meta"]),
            generator=GeneratorConfig.from_dict(data["generator"]),
            segmenter=segmenter_config_from_dict(data["segmenter"]),
            size=int(data["size"]),
            enhancer=EnhancerConfig(**data["enhancer"]) if data.get("enhancer") else None,
        )
