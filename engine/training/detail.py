"""Training the detail network (issue 36) of a trained model, on the same beautiful photos.

Each photo is translated once, as the engine serves it: fitted to the model's size,
segmented, painted by the (frozen) generator. The photo is then also taken at `scale` times
that size (2, 3 and 4: results of 512 to 1024 px), with its segmentation at that size. A
step draws crops of one scale: the picture of the crop (the generator's, or for edges the
photo's own at the generator's size, point-sampled, softened and lined as the generator draws:
see `DetailConfig.picture`), the segmentation and the photo at the larger size. The network
learns to add the photo's detail to the picture.

Losses see only detail (the image minus its average over each generator pixel, the band the
network can change): a PatchGAN pair of scales judges it beside the segmentation, its
features are matched (pix2pixHD), an L1 term keeps it near the photo's, colour grain
beyond the photo's is penalised, and so, if the recipe says, is texture short of it. A
checkpoint every `checkpoint_interval_s` makes a run resumable across sessions.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter
from scipy import ndimage

from engine.atomic import atomic_torch_save
from engine.device import Precision, autocast, place, resolve_precision
from engine.errors import TrainingDivergedError
from engine.imaging import encode_image, grid, read_image
from engine.imaging.tensors import to_image, to_tensor
from engine.models import Model, ModelEntry, ModelRegistry, load_model
from engine.nets import DetailEnhancer, MultiScaleDiscriminator
from engine.nets.enhancer import without_coarse
from engine.pipeline import ImageTranslator, Translation
from engine.pipeline.images import detail_segmentation
from engine.specs import EnhancerConfig

from .average import WeightAverage
from .config import DetailConfig, pattern_period, set_decayed_rates
from .data import split_holdout
from .losses import (
    adversarial,
    chroma_grain_excess,
    feature_matching,
    lightness_grain_deficit,
    periodic_pattern,
    split_halves,
)
from .quality import laplacian_spread

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "detail-checkpoint.pt"


@dataclass
class _Example:
    """One photo at one scale: the generator's picture and, `scale` times larger, the
    segmentation and the photo (uint8, to keep 74 photos x 3 scales in memory)."""

    scale: int
    picture: torch.Tensor  # (3, h, w)
    segmentation: torch.Tensor  # (3, h * scale, w * scale)
    photo: torch.Tensor  # (3, h * scale, w * scale)


def _bytes(images: torch.Tensor) -> torch.Tensor:
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


DEFAULT_ENHANCER = EnhancerConfig()
SOFTENING_STEPS = 12  # bisections of the blur's sigma: to within 4 / 2**12 px


def softened_to(image: Image.Image, reference: Image.Image) -> Image.Image:
    """`image` blurred (Gaussian) until its Laplacian spread is `reference`'s, if sharper."""
    target = laplacian_spread(reference)
    if laplacian_spread(image) <= target:
        return image
    low, high = 0.0, 4.0
    for _ in range(SOFTENING_STEPS):
        sigma = (low + high) / 2
        if laplacian_spread(image.filter(ImageFilter.GaussianBlur(sigma))) > target:
            low = sigma
        else:
            high = sigma
    return image.filter(ImageFilter.GaussianBlur(high))


def _picture(translation: Translation, photo: Image.Image, picture_from: str) -> Image.Image:
    """What the network learns to add detail to (see DetailConfig.picture)."""
    if picture_from == "generator":
        return translation.interpretation
    if picture_from == "photo":
        return translation.original
    small = translation.original  # "softened": fitted by averaging, so edges fall between pixels
    if picture_from in ("sampled", "lined"):
        small = photo.convert("RGB").resize(small.size, Image.Resampling.NEAREST)
    softened = softened_to(small, translation.interpretation)
    return _with_lines(softened, translation) if picture_from == "lined" else softened


LINE_SIGMA = 1.0  # px at the generator's size: what of its picture counts as its lines


def _with_lines(picture: Image.Image, translation: Translation) -> Image.Image:
    """`picture` with the generator's own lines: its picture's high-pass, next to the edges."""
    painted = np.asarray(translation.interpretation.convert("RGB"), dtype=np.float32)
    lines = painted - ndimage.gaussian_filter(painted, (LINE_SIGMA, LINE_SIGMA, 0))
    edges = np.asarray(translation.segmentation.convert("L")) > 127
    near = ndimage.binary_dilation(edges, np.ones((3, 3), bool))
    base = np.asarray(picture, dtype=np.float32) + lines * near[..., None]
    return Image.fromarray(base.clip(0, 255).round().astype(np.uint8))


def prepare_examples(
    model: Model,
    photos: Sequence[Image.Image],
    scales: Sequence[int],
    enhancer: EnhancerConfig = DEFAULT_ENHANCER,
    *,
    largest_only: bool = False,
    picture_from: str = "generator",
) -> list[_Example]:
    """Every photo at every scale its size allows (or the largest), translated as the engine
    serves it, with the segmentation `enhancer` sees; the picture is the generator's, or the
    photo fitted to the generator's size ("photo"), that photo softened ("softened"), or the
    photo point-sampled at that size and softened ("sampled")."""
    translator = ImageTranslator(model, "eager-fp32", batch_size=1, streams=1)
    examples: list[_Example] = []
    for photo in photos:
        (translation,) = translator.translate([photo])
        small = translation.original
        picture = _bytes(to_tensor(_picture(translation, photo, picture_from)))  # every scale
        for scale in sorted(set(scales), reverse=True):
            width, height = small.width * scale, small.height * scale
            if max(width, height) > max(photo.size):
                continue  # no photo detail to learn from at this scale
            large = to_tensor(photo.resize((width, height), Image.Resampling.LANCZOS))[None]
            segmentation = detail_segmentation(enhancer, model.spec.segmenter, large, translation)
            examples.append(_Example(scale, picture, _bytes(segmentation[0]), _bytes(large[0])))
            if largest_only:
                break
    return examples


@dataclass
class _Batch:
    picture: torch.Tensor  # (B, 3, c, c) in [-1, 1], c = crop / scale
    segmentation: torch.Tensor  # (B, 3, crop, crop) in [-1, 1]
    photo: torch.Tensor  # (B, 3, crop, crop) in [-1, 1]

    @property
    def small(self) -> tuple[int, int]:
        """The generator's size of the crops."""
        return self.picture.shape[-2], self.picture.shape[-1]

    @property
    def scale(self) -> int:
        """How many times the generator's size the crops are."""
        return self.photo.shape[-1] // self.picture.shape[-1]


@dataclass
class DetailTrainer:
    """Trains one detail network for one frozen model."""

    config: DetailConfig
    examples: list[_Example]
    validation: list[_Example]
    run_dir: Path
    device: torch.device
    precision: Precision = "auto"
    step: int = 0
    elapsed_s: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        cfg = self.config
        if (
            cfg.picture == "auto"
            or cfg.judged == "auto"
            or cfg.periodic is None
            or cfg.light_grain is None
            or cfg.scales is None
            or cfg.enhancer is None
        ):
            raise ValueError("make the recipe's choices for the model first (for_segmenter)")
        self.periodic_weight = cfg.periodic
        self.light_grain_weight = cfg.light_grain
        self.precision = resolve_precision(self.device, self.precision)
        torch.manual_seed(cfg.seed)
        self.enhancer = place(DetailEnhancer(cfg.enhancer), self.device)
        self.average = (
            WeightAverage(self.enhancer, cfg.weight_average) if cfg.weight_average else None
        )
        judge = cfg.discriminator
        if cfg.judged == "detail+whole":
            judge = replace(judge, in_channels=judge.in_channels + 3)
        self.discriminator = place(MultiScaleDiscriminator(judge), self.device)
        betas = (cfg.beta1, 0.999)
        self.opt_g = torch.optim.Adam(self.enhancer.parameters(), lr=cfg.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr_d, betas=betas)
        self.random = torch.Generator().manual_seed(cfg.seed)
        self.by_scale = {
            scale: [e for e in self.examples if e.scale == scale] for scale in cfg.scales
        }
        self.by_scale = {scale: found for scale, found in self.by_scale.items() if found}
        self.turns = sorted(scale for scale in cfg.scales if scale in self.by_scale)

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / CHECKPOINT_NAME

    # ---- data ---------------------------------------------------------------------------
    def _draw(self, upper: int) -> int:
        return int(torch.randint(upper, (), generator=self.random))

    def batch(self) -> _Batch:
        """Crops of one scale (its turn by step), each at a random place, maybe mirrored."""
        scale = self.turns[self.step % len(self.turns)]
        pool, crop = self.by_scale[scale], self.config.crop
        side = crop // scale
        pictures: list[torch.Tensor] = []
        segmentations: list[torch.Tensor] = []
        photos: list[torch.Tensor] = []
        for _ in range(self.config.batch_size):
            example = pool[self._draw(len(pool))]
            height, width = example.picture.shape[1:]
            top, left = self._draw(height - side + 1), self._draw(width - side + 1)
            parts = [
                example.picture[:, top : top + side, left : left + side],
                example.segmentation[:, top * scale : (top + side) * scale][
                    ..., left * scale : (left + side) * scale
                ],
                example.photo[:, top * scale : (top + side) * scale][
                    ..., left * scale : (left + side) * scale
                ],
            ]
            if self._draw(2):
                parts = [part.flip(-1) for part in parts]
            for found, part in zip((pictures, segmentations, photos), parts, strict=True):
                found.append(part)

        def stacked(parts: list[torch.Tensor]) -> torch.Tensor:
            batch = torch.stack(parts).to(self.device).float() / 127.5 - 1
            return batch.contiguous(memory_format=torch.channels_last)

        return _Batch(stacked(pictures), stacked(segmentations), stacked(photos))

    # ---- one step -----------------------------------------------------------------------
    def _seen(self, images: torch.Tensor, small: tuple[int, int]) -> torch.Tensor:
        """What the discriminator sees of `images`: their detail (faint: x4, about [-1, 1]),
        and the whole images beside it if the recipe says so."""
        detail = without_coarse(images, small) * 4
        return torch.cat([detail, images], 1) if self.config.judged == "detail+whole" else detail

    def _judge(self, model: torch.nn.Module, batch: _Batch, fake: torch.Tensor) -> tuple:
        small = batch.small
        images = torch.cat([self._seen(fake, small), self._seen(batch.photo, small)])
        with autocast(self.device, self.precision):
            scales = model(torch.cat([batch.segmentation, batch.segmentation]), images)
        return split_halves(scales)

    def _set_learning_rates(self) -> None:
        cfg = self.config
        set_decayed_rates(
            ((self.opt_g, cfg.lr_g), (self.opt_d, cfg.lr_d)),
            cfg.lr_decay_start,
            step=self.step,
            total_steps=cfg.steps,
            elapsed_s=self.elapsed_s,
            time_budget_s=cfg.time_budget_s,
        )

    def train_step(self) -> dict[str, float]:
        cfg = self.config
        self._set_learning_rates()
        batch = self.batch()
        with autocast(self.device, self.precision):
            fake = self.enhancer(batch.picture, batch.segmentation).float()

        self.discriminator.requires_grad_(True)
        fake_scales, real_scales = self._judge(self.discriminator, batch, fake.detach())
        loss_d = adversarial(cfg.gan_loss, fake_scales, real_scales)  # type: ignore[arg-type]
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        self.discriminator.requires_grad_(False)
        fake_scales, real_scales = self._judge(self.discriminator, batch, fake)
        small = batch.small
        loss_gan = adversarial(cfg.gan_loss, fake_scales, None)  # type: ignore[arg-type]
        loss_fm = feature_matching(fake_scales, real_scales)
        fake_detail, real_detail = without_coarse(fake, small), without_coarse(batch.photo, small)
        loss_l1 = F.l1_loss(fake_detail, real_detail)
        loss_grain = chroma_grain_excess(fake, batch.photo)
        loss_light = lightness_grain_deficit(fake, batch.photo)
        # The photos repeat nothing on the pixel grid: any pattern the network repeats is a flaw.
        loss_periodic = periodic_pattern(fake_detail, pattern_period(batch.scale)).abs().mean()
        loss_g = (
            loss_gan
            + cfg.feature_matching * loss_fm
            + cfg.l1_weight * loss_l1
            + cfg.chroma_grain * loss_grain
            + self.periodic_weight * loss_periodic
            + self.light_grain_weight * loss_light
        )
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.step += 1
        if self.average is not None:
            self.average.update(self.enhancer, self.step)
        return {
            "d": loss_d.item(),
            "g_gan": loss_gan.item(),
            "g_fm": loss_fm.item(),
            "g_l1": loss_l1.item(),
            "g_grain": loss_grain.item(),
            "g_periodic": loss_periodic.item(),
            "g_light": loss_light.item(),
        }

    # ---- samples ------------------------------------------------------------------------
    @torch.no_grad()
    def sample_sheet(self, path: Path) -> Path:
        """Held-out photos at their largest scale: picture enlarged | result | photo."""
        network = self.served.eval()
        rows = []
        for example in self.validation:
            # Cropped as serving crops: a 171 px picture at 3x is 513 px, and the network
            # paints even sides only.
            height, width = (
                side - side % self.enhancer.multiple for side in example.photo.shape[1:]
            )
            picture = example.picture[None].float() / 127.5 - 1
            segmentation = example.segmentation[None, :, :height, :width].float() / 127.5 - 1
            photo = example.photo[:, :height, :width].float() / 127.5 - 1
            with autocast(self.device, self.precision):
                result = network(picture.to(self.device), segmentation.to(self.device))
            enlarged = F.interpolate(picture, size=(height, width), mode="bilinear")
            images = [enlarged[0], result.float()[0].cpu(), photo]
            rows.append([to_image((image + 1) / 2) for image in images])
        self.enhancer.train()  # the average stays in eval mode
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_image(grid(rows)))
        return path

    # ---- checkpoints --------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        state = {
            "config": self.config.to_dict(),
            "step": self.step,
            "elapsed_s": self.elapsed_s,
            "enhancer": self.enhancer.state_dict(),
            **({} if self.average is None else {"average": self.average.network.state_dict()}),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "random": self.random.get_state(),
            "history": self.history,
        }
        atomic_torch_save(state, self.checkpoint_path)

    def load_checkpoint(self) -> bool:
        if not self.checkpoint_path.is_file():
            return False
        state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
        saved = DetailConfig.from_dict(state["config"])
        if saved.enhancer != self.config.enhancer:
            raise ValueError(f"{self.checkpoint_path} was made for another detail network")
        self.enhancer.load_state_dict(state["enhancer"])
        if self.average is not None:  # a run that did not average until now starts here
            self.average.network.load_state_dict(state.get("average", state["enhancer"]))
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.random.set_state(state["random"].cpu())
        self.step, self.elapsed_s = int(state["step"]), float(state["elapsed_s"])
        self.history = list(state["history"])
        return True

    # ---- the loop -----------------------------------------------------------------------
    def _done(self) -> bool:
        cfg = self.config
        return (cfg.steps is not None and self.step >= cfg.steps) or (
            cfg.time_budget_s is not None and self.elapsed_s >= cfg.time_budget_s
        )

    def run(self, resume: bool = False) -> DetailEnhancer:
        """Train until the steps or the time budget are spent; the trained network."""
        if resume and self.load_checkpoint():
            log.info("resumed %s at step %d", self.run_dir, self.step)
        last_checkpoint = time.monotonic()
        while not self._done():
            started = time.perf_counter()
            losses = self.train_step()
            if not all(math.isfinite(value) for value in losses.values()):
                raise TrainingDivergedError(
                    f"detail training diverged at step {self.step} ({losses}); the last "
                    "checkpoint is kept: try lower learning rates"
                )
            self.elapsed_s += time.perf_counter() - started
            if self.step % 20 == 0:
                self.history.append({"step": self.step, **losses})
                shown = " ".join(f"{k} {v:.3f}" for k, v in losses.items())
                log.info("step %d (%.0f s): %s", self.step, self.elapsed_s, shown)
            if self.step % self.config.sample_every == 0 and self.validation:
                self.sample_sheet(self.run_dir / "samples" / f"step-{self.step:07d}.png")
            if time.monotonic() - last_checkpoint >= self.config.checkpoint_interval_s:
                self.save_checkpoint()
                last_checkpoint = time.monotonic()
        self.save_checkpoint()
        return self.served.eval()

    @property
    def served(self) -> DetailEnhancer:
        """The network that is shown and registered: the weight average when there is one."""
        return self.enhancer if self.average is None else self.average.network


def _say_scales_without_photos(scales: Sequence[int], examples: list[_Example], size: int) -> None:
    """Warn of a scale no photo is large enough for: the network would answer at it having
    never learnt it (nature's and nature-edges' v8 learnt 2x and 3x only, from a dataset
    whose photos had been shrunk to a short side of 512 px)."""
    learnt = {e.scale for e in examples}
    for scale in sorted(set(scales) - learnt):
        log.warning(
            "no photo is large enough to learn scale %d (a long side of %d px): the network "
            "learns %s only, and answers larger by extrapolation",
            scale,
            size * scale,
            ", ".join(f"{s}x" for s in sorted(learnt)) or "nothing",
        )


SHEET_PHOTOS = 3
HOLDOUT_FRACTION = 0.1  # TrainConfig's val_fraction: the generator's held-out photos


def run_detail_training(
    base: ModelEntry,
    photos: Sequence[Path],
    config: DetailConfig,
    run_dir: Path,
    registry: ModelRegistry,
    device: torch.device,
    *,
    resume: bool = False,
    precision: Precision = "auto",
) -> ModelEntry:
    """Train a detail network for `base` on `photos` and register base's generator with it
    as the next version of base's name (served once promoted)."""
    model = load_model(base.path, device)
    enhancer, sheet = train_detail_network(
        model, photos, config, run_dir, device, resume=resume, precision=precision
    )
    meta = replace(base.spec.meta, created=datetime.now(UTC).isoformat(timespec="seconds"))
    spec = replace(base.spec, meta=meta, enhancer=enhancer.cfg)
    return registry.register(spec, model.generator, sheet, enhancer)


def train_detail_network(
    model: Model,
    photos: Sequence[Path],
    config: DetailConfig,
    run_dir: Path,
    device: torch.device,
    *,
    resume: bool = False,
    precision: Precision = "auto",
) -> tuple[DetailEnhancer, Path]:
    """A detail network trained for `model`'s generator on `photos` (held out as a training
    run holds them out), and its last sample sheet."""
    config = config.for_segmenter(model.spec.segmenter)
    assert config.scales is not None and config.enhancer is not None  # chosen by for_segmenter
    train_paths, held_paths = split_holdout(photos, HOLDOUT_FRACTION, config.seed)
    log.info(
        "translating %d photos at scales %s (detail added to the picture: %s; periodic %g; "
        "light grain %g; judged: %s)",
        len(photos),
        config.scales,
        config.picture,
        config.periodic,
        config.light_grain,
        config.judged,
    )
    train_photos = [read_image(p) for p in train_paths]
    examples = prepare_examples(
        model, train_photos, config.scales, config.enhancer, picture_from=config.picture
    )
    _say_scales_without_photos(config.scales, examples, model.spec.size)
    # The sheet shows what serving does: the generator's picture, whatever was learnt from.
    sheet_photos = [read_image(p) for p in held_paths[:SHEET_PHOTOS]]
    held = prepare_examples(model, sheet_photos, config.scales, config.enhancer, largest_only=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = DetailTrainer(config, examples, held, run_dir, device, precision)
    enhancer = trainer.run(resume=resume)
    return enhancer.cpu(), trainer.sample_sheet(run_dir / "samples" / "final.png")
