"""Training hyper-parameters: one dataclass, saved inside every checkpoint."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

from engine.nets import DiscriminatorConfig, EnhancerConfig, GeneratorConfig, default_depth
from engine.nets.enhancer import UNSHUFFLE as ENHANCER_UNSHUFFLE
from engine.segment import ClustersConfig, EdgesConfig, SegmenterConfig, segmenter_config_from_dict

from .augment import parse_policy
from .losses import GAN_LOSSES, GanLoss

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


def linear_decay(progress: float, start: float) -> float:
    """Learning-rate multiplier after `progress` (0 to 1) of a run: 1 until `start`, then
    linear to 0 at the end (pix2pix's schedule); `start` 1: no decay."""
    if progress <= start or start >= 1:
        return 1.0
    return max(0.0, (1 - progress) / (1 - start))


def set_decayed_rates(
    rates: Sequence[tuple[torch.optim.Optimizer, float]],
    start: float,
    *,
    step: int,
    total_steps: int | None,
    elapsed_s: float,
    time_budget_s: float | None,
) -> None:
    """Set each optimiser's rate to its base rate decayed (`linear_decay` after `start`) for
    how far the run is, by steps or by time, whichever is further."""
    progress = step / total_steps if total_steps else 0.0
    if time_budget_s:
        progress = max(progress, elapsed_s / time_budget_s)
    factor = linear_decay(min(progress, 1.0), start)
    for optimiser, lr in rates:
        for group in optimiser.param_groups:
            group["lr"] = lr * factor


DETAIL_PICTURES = ("auto", "generator", "photo", "softened", "sampled", "lined")
DETAIL_JUDGED = ("auto", "detail", "detail+whole")


@dataclass(frozen=True)
class DetailRecipe:
    """The choices a bundled model's detail network was trained with (DetailConfig's "auto"
    and None), per segmenter kind."""

    picture: str
    periodic: float
    steps: int
    judged: str = "detail"
    light_grain: float = 0.0
    # As every bundled network learnt: 2x and 3x, the default network.
    scales: tuple[int, ...] = (2, 3)
    enhancer: EnhancerConfig = field(default_factory=EnhancerConfig)


# nature v8 trained for 100 minutes; longer edges runs drew a pixel grid again. All learnt 2x
# and 3x only (the dataset's photos are 512 px on their short side): taught 4x as well, from
# photos stored at 1024, two edges networks added less at 1024 px (0.47x and 0.54x the photos'
# detail, against 0.67x and 0.92x) and one drew a grid (index 3.52). nature-edges v9: the
# generator's lines, the whole result judged, and texture priced (no echoes; see DetailConfig).
BUNDLED_DETAIL_RECIPES = {
    "clusters": DetailRecipe(picture="generator", periodic=0.0, steps=16_160),
    "edges": DetailRecipe(
        picture="lined", periodic=50.0, steps=3_200, judged="detail+whole", light_grain=100.0
    ),
}


def pattern_period(scale: int) -> int:
    """The side of the squares in which a detail network at `scale` times the generator's size
    could repeat itself: the generator's pixel (`scale`) and the network's own grid (it works
    at half size, so 4 px), whichever both tile."""
    return math.lcm(scale, 2 * ENHANCER_UNSHUFFLE)


@dataclass(frozen=True)
class DetailConfig:
    """How a detail network is trained; stored in its checkpoints, with the per-segmenter
    choices ("auto", None) made (`for_segmenter`), so admins' retraining trains what ships:
    with neither `steps` nor `time_budget_s`, the bundled models' own length
    (BUNDLED_DETAIL_RECIPES).

    `picture` is what the network learns to add the photo's detail to: the generator's
    picture, the photo itself fitted to the generator's size, or that photo "softened"
    (blurred until its Laplacian spread is the generator picture's: trained on the sharper
    photo, the network added too little to the generator's softer picture when serving).
    "sampled" softens the photo point-sampled at that size: its edges then lie on the
    generator's pixel grid, up to half a pixel (2 px at 4x) off the edges the segmentation
    draws at the result's size, as the generator's own lines do. Trained on photos whose small
    picture put every edge exactly on the segmentation's, nature-edges v8 sharpened both the
    generator's line and the segmentation's beside it: echoes. "lined" adds the generator's
    lines (its picture's high-pass, beside its edge map's pixels) to that picture.

    From an edge map the generator invents which side of an edge is light, so the photo's
    detail across an edge has no fixed sign against the generator's picture: L1 then asks for
    nothing there and the discriminator for something, and the network drew every edge as a
    symmetric ridge with echoes (the first nature-edges detail network, not shipped). The
    photo's own small picture agrees with its detail. "auto": the generator's for clusters
    (whose colours follow the photo's), the lined photo's for edges.

    `periodic` weighs a loss on what the network paints the same way in every cell of the
    generator's pixel grid and of its own (half-size) grid: an edges network trained without
    it drew such a grid (grid index 3.7 at 1024 px) where the photos have none. None: 50 for
    edges, 0 for clusters (whose network, trained without it, draws no grid).

    `judged` is what the discriminator sees: the detail band alone, or beside it the whole
    result. In the detail band a real step edge is itself a dark/light pair, so a network
    judged there alone learnt to draw such pairs along edges the generator's picture lacks:
    echoes beside every stroke (nature-edges v8). Seeing the whole result, the discriminator
    tells a pair on a flat picture from a photo's edge (stop 44: no echoes, less detail).
    "auto": the detail alone for clusters, the whole result too for edges.

    `light_grain` weighs a loss on fine texture in the light and dark short of the photo's
    (`lightness_grain_deficit`): without it, edges networks without echoes added too little
    (0.61x the photos' detail at 1024 px from the lined picture; 0.52x judged whole, from the
    softened one). None: 100 for edges, 0 for clusters.
    """

    enhancer: EnhancerConfig | None = None  # None: the recipe's network
    discriminator: DiscriminatorConfig = field(
        default_factory=lambda: DiscriminatorConfig(ndf=32, scales=2)
    )
    # The result is this many times the model's size; scales take turns, a scale named twice
    # two turns. None: the recipe's.
    scales: tuple[int, ...] | None = None
    crop: int = 144  # side of a training crop at the result's size (a multiple of each scale)
    batch_size: int = 4
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    l1_weight: float = 2.0
    feature_matching: float = 10.0
    chroma_grain: float = 100.0
    gan_loss: str = "hinge"
    seed: int = 0
    time_budget_s: float | None = None
    steps: int | None = None
    checkpoint_interval_s: float = 300.0
    sample_every: int = 200
    picture: str = "auto"  # one of DETAIL_PICTURES
    periodic: float | None = None
    light_grain: float | None = None  # weight of lightness grain short of the photo's
    judged: str = "auto"  # one of DETAIL_JUDGED
    weight_average: float = 0.0  # decay of the network's weight average, served instead; 0: off
    lr_decay_start: float = 1.0  # fraction of the run after which both rates fall to 0; 1: none

    def __post_init__(self) -> None:
        if not 0 <= self.lr_decay_start <= 1:
            raise ValueError(f"lr_decay_start must be in [0, 1], got {self.lr_decay_start}")
        if self.picture not in DETAIL_PICTURES:
            raise ValueError(f"picture must be one of {', '.join(DETAIL_PICTURES)}")
        if self.judged not in DETAIL_JUDGED:
            raise ValueError(f"judged must be one of {', '.join(DETAIL_JUDGED)}")
        if not 0 <= self.weight_average < 1:
            raise ValueError(f"weight_average must be in [0, 1), got {self.weight_average}")
        scales = self.scales or ()
        if any(self.crop % pattern_period(s) for s in scales):
            periods = ", ".join(str(pattern_period(s)) for s in scales)
            raise ValueError(f"crop {self.crop} must be a multiple of {periods}")

    def for_segmenter(self, segmenter: SegmenterConfig) -> DetailConfig:
        """This recipe with its choices made for a model with `segmenter`."""
        recipe = BUNDLED_DETAIL_RECIPES[segmenter.kind]
        picture = recipe.picture if self.picture == "auto" else self.picture
        periodic = recipe.periodic if self.periodic is None else self.periodic
        light_grain = recipe.light_grain if self.light_grain is None else self.light_grain
        unbounded = self.steps is None and self.time_budget_s is None
        steps = recipe.steps if unbounded else self.steps
        scales = recipe.scales if self.scales is None else self.scales
        judged = recipe.judged if self.judged == "auto" else self.judged
        enhancer = recipe.enhancer if self.enhancer is None else self.enhancer
        if enhancer.segmentation == "traced" and segmenter.kind != "edges":
            raise ValueError("a traced segmentation is drawn from edges, not from clusters")
        if picture == "lined" and segmenter.kind != "edges":
            raise ValueError("the generator's lines are drawn along edges, not clusters")
        return replace(
            self,
            picture=picture,
            periodic=periodic,
            light_grain=light_grain,
            steps=steps,
            scales=scales,
            judged=judged,
            enhancer=enhancer,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["scales"] = None if self.scales is None else list(self.scales)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetailConfig:
        return cls(
            **{
                "periodic": 0.0,  # checkpoints from before the loss were trained without it
                "judged": "detail",  # and from before the option
                "light_grain": 0.0,  # and from before this one
                **data,
                "enhancer": None
                if data["enhancer"] is None
                else EnhancerConfig(**data["enhancer"]),
                "discriminator": DiscriminatorConfig.from_dict(data["discriminator"]),
                "scales": None if data["scales"] is None else tuple(data["scales"]),
            }
        )


# Checkpoints written before the recipe was configurable trained the pix2pix way.
_LEGACY_RECIPE: dict[str, Any] = {
    "gan_loss": "bce",
    "feature_matching": 0.0,
    "diff_augment": "",
    "lr_decay_start": 1.0,
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run.

    The networks and data follow pix2pix (Isola et al. 2017); the loss recipe (adversarial
    loss, discriminator scales and spectral norm, feature matching, DiffAugment, the L1 and
    colour-distribution weights, learning rates and their decay) defaults to the winner of
    `bench/recipes.py`.
    """

    model_name: str
    segmenter: SegmenterConfig = field(default_factory=ClustersConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    size: int = 256  # training crop side
    serve_size: int | None = None  # long side the model translates at; None: `size`
    batch_size: int = 1
    epochs: int | None = 100
    time_budget_s: float | None = None
    epoch_samples: int = 256  # random crops per epoch: the dataset is small, crops are many
    gan_loss: GanLoss = "hinge"
    feature_matching: float = 10.0  # pix2pixHD's lambda; 0 turns it off
    diff_augment: str = "color,translation,cutout"  # parts of engine.training.augment.POLICIES
    l1_weight: float = 10.0
    colour_distribution: float = 0.0  # weight of the sliced Wasserstein colour loss; 0: off
    chroma_weight: float = 1.0  # how much more that loss weighs hue and saturation; 1: RGB
    chroma_grain: float = 0.0  # weight of the output's chroma grain beyond its photo's; 0: off
    light_grain: float = 0.0  # weight of its lightness grain short of its photo's; 0: off
    lr_g: float = 1e-4
    lr_d: float = 4e-4  # TTUR (Heusel et al. 2017), as in SPADE
    lr_decay_start: float = 0.5  # fraction of the run after which both rates fall linearly to 0
    weight_average: float = 0.0  # decay of the generator's weight average, served instead; 0: off
    beta1: float = 0.5
    val_fraction: float = 0.1
    min_crop_fraction: float = 0.35  # smallest crop side, relative to the image's short side
    checkpoint_interval_s: float = 300.0
    seed: int = 0
    init_from: str = ""  # model (name@version) whose generator weights the run starts from
    detail: DetailConfig | None = None  # then a detail network, trained for the new generator

    def __post_init__(self) -> None:
        if self.epochs is None and self.time_budget_s is None:
            raise ValueError("give epochs or time_budget_s")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.size % self.generator.multiple:
            raise ValueError(
                f"size must be a multiple of {self.generator.multiple} (2**depth), got {self.size}"
            )
        if self.serve_size is not None and self.serve_size < self.generator.multiple:
            raise ValueError(
                f"serve_size must be >= {self.generator.multiple}, got {self.serve_size}"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.gan_loss not in GAN_LOSSES:
            raise ValueError(f"gan_loss must be one of {GAN_LOSSES}, got {self.gan_loss!r}")
        weights = (
            self.feature_matching,
            self.l1_weight,
            self.colour_distribution,
            self.chroma_grain,
            self.light_grain,
        )
        if min(weights) < 0:
            raise ValueError(
                "feature_matching, l1_weight, colour_distribution, chroma_grain and light_grain "
                "must be >= 0"
            )
        if self.chroma_weight <= 0:
            raise ValueError(f"chroma_weight must be > 0, got {self.chroma_weight}")
        if self.lr_g <= 0 or self.lr_d <= 0:
            raise ValueError(f"learning rates must be > 0, got {self.lr_g} and {self.lr_d}")
        if not 0 <= self.lr_decay_start <= 1:
            raise ValueError(f"lr_decay_start must be in [0, 1], got {self.lr_decay_start}")
        if not 0 <= self.weight_average < 1:
            raise ValueError(f"weight_average must be in [0, 1), got {self.weight_average}")
        parse_policy(self.diff_augment)

    @property
    def augment_policy(self) -> tuple[str, ...]:
        return parse_policy(self.diff_augment)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["segmenter"] = self.segmenter.to_dict()
        data["detail"] = None if self.detail is None else self.detail.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = {**_LEGACY_RECIPE, **data}
        if "lr" in data:  # one rate for both networks, as in pix2pix
            data["lr_g"] = data["lr_d"] = data.pop("lr")
        data["segmenter"] = segmenter_config_from_dict(data["segmenter"])
        data["generator"] = GeneratorConfig.from_dict(data["generator"])
        data["discriminator"] = DiscriminatorConfig.from_dict(data["discriminator"])
        data["detail"] = DetailConfig.from_dict(data["detail"]) if data.get("detail") else None
        return cls(**data)


@dataclass(frozen=True)
class TrainDefaults:
    """Network size and run length for trainings started without a full config (bot, service)."""

    ngf: int = 64
    ndf: int = 64
    size: int = 256
    epochs: int = 100
    epoch_samples: int = 256
    detail: DetailConfig | None = None  # a detail network too, as the bundled models have


def make_train_config(
    name: str,
    segmenter: str,
    k: int,
    defaults: TrainDefaults,
    time_budget: str | None = None,
    **overrides: Any,
) -> TrainConfig:
    """A TrainConfig from a user's choices; a time budget replaces the epoch count.

    `overrides` are TrainConfig fields, or `upsample`, `noise` and `input_skip` (generator),
    `scales` and `spectral_norm` (discriminator); None means the default.

    ValueError names the bad argument (the segmenter kind, the time budget, ...).
    """
    if segmenter not in ("clusters", "edges"):
        raise ValueError(f"segmenter must be clusters or edges, got {segmenter!r}")
    try:
        budget = parse_duration(time_budget) if time_budget else None
    except ValueError as exc:
        raise ValueError(f"time budget: {exc}") from exc
    depth = overrides.pop("depth", None) or default_depth(defaults.size)
    generator = {
        k: overrides.pop(k)
        for k in ("upsample", "noise", "input_skip")
        if overrides.get(k) is not None
    }
    discriminator = {
        k: overrides.pop(k) for k in ("scales", "spectral_norm") if overrides.get(k) is not None
    }
    recipe = {k: v for k, v in overrides.items() if v is not None}
    return TrainConfig(
        model_name=name,
        segmenter=ClustersConfig(k=k) if segmenter == "clusters" else EdgesConfig(),
        generator=GeneratorConfig(ngf=defaults.ngf, depth=depth, **generator),
        discriminator=DiscriminatorConfig(ndf=defaults.ndf, **discriminator),
        size=defaults.size,
        epochs=None if budget else defaults.epochs,
        time_budget_s=budget,
        epoch_samples=defaults.epoch_samples,
        detail=defaults.detail,
        **recipe,
    )
