"""The pix2pix training loop: cGAN + L1 (+ feature matching, DiffAugment), Adam with a
linear decay, an optional average of the generator's weights, mixed precision, checkpoints,
resume, DDP.

One `Trainer.run()` trains until its epochs or its time budget are spent, or until
`stop_event` is set (a cancel button). A checkpoint is written atomically every
`checkpoint_interval_s` and at every epoch end, so `run(resume=True)` continues from the
last one after a crash or a kill.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from engine.atomic import atomic_torch_save
from engine.device import Precision, autocast, place, resolve_precision
from engine.errors import TrainingDivergedError
from engine.imaging import encode_image, grid
from engine.imaging.tensors import to_image
from engine.nets import MultiScaleDiscriminator, UnetGenerator
from engine.segment import build_segmenter

from .augment import diff_augment
from .average import WeightAverage
from .callbacks import Progress, TrainerCallback, Validation
from .config import TrainConfig, set_decayed_rates
from .data import CropSampler, validation_crops
from .distributed import DistributedContext
from .losses import (
    adversarial,
    chroma_grain_excess,
    colour_distribution,
    feature_matching,
    lightness_grain_deficit,
    split_halves,
)
from .metrics import evaluate

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
SHEET_ROWS = 4
Status = Literal["finished", "cancelled"]


@dataclass(frozen=True)
class TrainOutcome:
    """How a run ended, and what it produced."""

    status: Status
    steps: int
    elapsed_s: float
    metrics: dict[str, float]
    sample_sheet: Path | None
    generator: UnetGenerator


class Trainer:
    """Trains one generator/discriminator pair on crops of a few photos."""

    def __init__(
        self,
        config: TrainConfig,
        train_photos: Sequence[torch.Tensor],
        val_photos: Sequence[torch.Tensor],
        run_dir: Path,
        device: torch.device,
        callbacks: Sequence[TrainerCallback] = (),
        stop_event: threading.Event | None = None,
        context: DistributedContext = DistributedContext(),
        precision: Precision = "auto",
        initial_generator: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        self.config = config
        self.run_dir = run_dir
        self.device = device
        self.callbacks = list(callbacks) if context.is_main else []
        self.stop_event = stop_event or threading.Event()
        self.context = context
        self.precision = resolve_precision(device, precision)
        self.segmenter = build_segmenter(config.segmenter)
        self.sampler = CropSampler(
            train_photos, config.size, config.min_crop_fraction, config.seed + 1000 * context.rank
        )
        self.val_batch = validation_crops(val_photos, config.size).to(device)

        torch.manual_seed(config.seed)  # identical initial weights on every rank
        self.generator = UnetGenerator(config.generator)
        if initial_generator is not None:  # fine-tuning; a resumed checkpoint overrides it
            self.generator.load_weights_of(initial_generator)
        self.generator = place(self.generator, device)
        self.discriminator = place(MultiScaleDiscriminator(config.discriminator), device)
        self.average = (
            WeightAverage(self.generator, config.weight_average) if config.weight_average else None
        )
        betas = (config.beta1, 0.999)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_d, betas=betas)
        # fp16 needs loss scaling; bf16 and fp32 do not.
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.precision == "fp16")
        self.g_train: torch.nn.Module = self.generator
        self.d_train: torch.nn.Module = self.discriminator
        if context.enabled:
            ids = [device.index] if device.type == "cuda" else None
            self.g_train = DistributedDataParallel(self.generator, device_ids=ids)
            self.d_train = DistributedDataParallel(self.discriminator, device_ids=ids)

        self.step = 0
        self.elapsed_s = 0.0
        self.history: list[dict[str, Any]] = []
        self.last_validation: Validation | None = None

    # ---- sizes -------------------------------------------------------------------------
    @property
    def steps_per_epoch(self) -> int:
        per_step = self.config.batch_size * self.context.world_size
        return max(1, math.ceil(self.config.epoch_samples / per_step))

    @property
    def total_steps(self) -> int | None:
        epochs = self.config.epochs
        return None if epochs is None else epochs * self.steps_per_epoch

    @property
    def served_generator(self) -> UnetGenerator:
        """The network that is validated and registered: the weight average when there is one."""
        return self.generator if self.average is None else self.average.network

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / CHECKPOINT_NAME

    # ---- one step ----------------------------------------------------------------------
    def _pairs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Network input (segmentation) and target (photo), both (B, 3, S, S) in [-1, 1]."""
        photos = self.sampler.batch(self.config.batch_size).to(self.device)
        with torch.no_grad():
            segmented = self.segmenter.segment(photos).images
        as_input = (segmented * 2 - 1).contiguous(memory_format=torch.channels_last)
        return as_input, (photos * 2 - 1).contiguous(memory_format=torch.channels_last)

    def _judge(
        self, x: torch.Tensor, fake: torch.Tensor, real: torch.Tensor, model: torch.nn.Module
    ) -> tuple[list, list]:
        """Discriminator features of (x, fake) and (x, real), equally augmented, one pass."""
        x, real, fake = diff_augment((x, real, fake), self.config.augment_policy)
        with autocast(self.device, self.precision):
            scales = model(torch.cat([x, x]), torch.cat([fake, real]))
        return split_halves(scales)

    def _set_learning_rates(self) -> None:
        cfg = self.config
        set_decayed_rates(
            ((self.opt_g, cfg.lr_g), (self.opt_d, cfg.lr_d)),
            cfg.lr_decay_start,
            step=self.step,
            total_steps=self.total_steps,
            elapsed_s=self.elapsed_s,
            time_budget_s=cfg.time_budget_s,
        )

    def train_step(self) -> dict[str, float]:
        """One discriminator and one generator update; returns the losses."""
        cfg = self.config
        self._set_learning_rates()
        x, y = self._pairs()
        with autocast(self.device, self.precision):
            fake = self.g_train(x)

        # Discriminator: fake and real in one forward pass (InstanceNorm is per sample).
        self.discriminator.requires_grad_(True)
        fake_scales, real_scales = self._judge(x, fake.detach(), y, self.d_train)
        loss_d = adversarial(cfg.gan_loss, fake_scales, real_scales)
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler.scale(loss_d).backward()
        self.scaler.step(self.opt_d)

        # Generator: fool the (frozen, unwrapped) discriminator, match its features on real
        # pairs, stay close in L1, and (optionally) match the real photos' colours wherever they
        # fall, keep colour from changing pixel to pixel more than in the photos, and lightness
        # from changing less.
        self.discriminator.requires_grad_(False)
        fake_scales, real_scales = self._judge(x, fake, y, self.discriminator)
        loss_gan = adversarial(cfg.gan_loss, fake_scales, None)
        loss_l1 = F.l1_loss(fake.float(), y.float())
        loss_g = loss_gan + cfg.l1_weight * loss_l1
        losses = {"d": loss_d.item(), "g_gan": loss_gan.item(), "g_l1": loss_l1.item()}
        if cfg.feature_matching:
            loss_fm = feature_matching(fake_scales, real_scales)
            loss_g = loss_g + cfg.feature_matching * loss_fm
            losses["g_fm"] = loss_fm.item()
        if cfg.colour_distribution:
            loss_colour = colour_distribution(fake, y, cfg.chroma_weight)
            loss_g = loss_g + cfg.colour_distribution * loss_colour
            losses["g_colour"] = loss_colour.item()
        if cfg.chroma_grain:
            loss_grain = chroma_grain_excess(fake, y)
            loss_g = loss_g + cfg.chroma_grain * loss_grain
            losses["g_grain"] = loss_grain.item()
        if cfg.light_grain:
            loss_light = lightness_grain_deficit(fake, y)
            loss_g = loss_g + cfg.light_grain * loss_light
            losses["g_light"] = loss_light.item()
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss_g).backward()
        self.scaler.step(self.opt_g)
        self.scaler.update()
        self.step += 1
        if self.average is not None:
            self.average.update(self.generator, self.step)
        return losses

    # ---- validation --------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> Validation:
        """Held-out L1, PSNR and SSIM, and a sample sheet: segmentation | output | truth."""
        network = self.served_generator
        network.eval()
        segmented = self.segmenter.segment(self.val_batch).images
        with autocast(self.device, self.precision):
            output = network((segmented * 2 - 1).contiguous(memory_format=torch.channels_last))
        output = ((output.float() + 1) / 2).clamp(0, 1)
        self.generator.train()  # the average stays in eval mode
        metrics = evaluate(output, self.val_batch)
        rows = [
            [to_image(s), to_image(o), to_image(t)]
            for s, o, t in zip(segmented, output, self.val_batch, strict=True)
        ][:SHEET_ROWS]
        sheet = grid(rows)
        epoch = self.step // self.steps_per_epoch
        path = self.run_dir / "samples" / f"step-{self.step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_image(sheet))
        (self.run_dir / "samples" / "latest.png").write_bytes(path.read_bytes())
        self.history.append({"epoch": epoch, "step": self.step, **metrics})
        self.last_validation = Validation(epoch, self.step, metrics, path)
        return self.last_validation

    # ---- checkpoints -------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        """Write everything needed to resume (main process only)."""
        if not self.context.is_main:
            return
        state = {
            "config": self.config.to_dict(),
            "step": self.step,
            "elapsed_s": self.elapsed_s,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler": self.scaler.state_dict(),
            "sampler_rng": self.sampler.generator.get_state(),
            "torch_rng": torch.get_rng_state(),  # dropout masks
            "history": self.history,
        }
        if self.average is not None:
            state["generator_average"] = self.average.network.state_dict()
        atomic_torch_save(state, self.checkpoint_path)
        for callback in self.callbacks:
            callback.on_checkpoint(self.checkpoint_path, self.step)

    def load_checkpoint(self) -> bool:
        """Restore the last checkpoint if there is one; False when starting fresh."""
        if not self.checkpoint_path.is_file():
            return False
        state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
        saved = TrainConfig.from_dict(state["config"])
        if saved.generator != self.config.generator or saved.segmenter != self.config.segmenter:
            raise ValueError(
                f"checkpoint in {self.run_dir} was made with another network or segmenter; "
                "use a new run directory"
            )
        self.generator.load_state_dict(state["generator"])
        if self.average is not None:
            if "generator_average" in state:
                self.average.network.load_state_dict(state["generator_average"])
            else:  # a run that did not average until now starts averaging here
                self.average.reset(self.generator)
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.elapsed_s = int(state["step"]), float(state["elapsed_s"])
        self.history = list(state["history"])
        torch.set_rng_state(state["torch_rng"].cpu())
        if self.context.is_main:
            self.sampler.generator.set_state(state["sampler_rng"].cpu())
        else:  # other ranks draw different crops from the main one, as before the crash
            self.sampler.generator.manual_seed(
                self.config.seed + 1000 * self.context.rank + self.step
            )
        return True

    # ---- the loop ----------------------------------------------------------------------
    def _out_of_time(self) -> bool:
        budget = self.config.time_budget_s
        total = self.total_steps
        return (budget is not None and self.elapsed_s >= budget) or (
            total is not None and self.step >= total
        )

    def _agree_to_stop(self) -> bool:
        """Stop when time is up or cancelled; every rank must take the same decision."""
        stop = self._out_of_time() or self.stop_event.is_set()
        if not self.context.enabled:
            return stop
        flag = torch.tensor([float(stop)], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)  # the main rank's clock decides for all
        return bool(flag.item())

    def _check_finite(self, losses: dict[str, float]) -> None:
        """Stop at the first non-finite loss: the weights are ruined from then on, and a run
        left going would train on for its whole budget and register a model that draws noise."""
        broken = {name: value for name, value in losses.items() if not math.isfinite(value)}
        if broken:
            shown = ", ".join(f"{name}={value}" for name, value in broken.items())
            raise TrainingDivergedError(
                f"training diverged at step {self.step} ({shown}); the last checkpoint is "
                "kept: try lower learning rates or a different recipe"
            )

    def _progress(self, losses: dict[str, float], rate: float) -> Progress:
        total, budget = self.total_steps, self.config.time_budget_s
        remaining = []
        if total is not None and rate > 0:
            remaining.append((total - self.step) * self.config.batch_size / rate)
        if budget is not None:
            remaining.append(max(0.0, budget - self.elapsed_s))
        eta = min(remaining) if remaining else None
        epoch = self.step // self.steps_per_epoch
        return Progress(self.step, total, epoch, self.elapsed_s, eta, rate, losses)

    def run(self, resume: bool = False) -> TrainOutcome:
        """Train until done or cancelled; the caller registers the model if it finished."""
        if resume and self.load_checkpoint():
            log.info("resumed %s at step %d", self.run_dir, self.step)
        self.generator.train()
        self.discriminator.train()
        last_checkpoint = time.monotonic()
        rate = 0.0
        while not self._agree_to_stop():
            started = time.perf_counter()
            losses = self.train_step()
            self._check_finite(losses)
            took = time.perf_counter() - started
            self.elapsed_s += took
            rate = (
                0.9 * rate + 0.1 * (self.config.batch_size / took)
                if rate
                else self.config.batch_size / took
            )
            for callback in self.callbacks:
                callback.on_step(self._progress(losses, rate))
            epoch_end = self.step % self.steps_per_epoch == 0
            if epoch_end and self.context.is_main:
                validation = self.validate()
                for callback in self.callbacks:
                    callback.on_validation(validation)
            if epoch_end or time.monotonic() - last_checkpoint >= self.config.checkpoint_interval_s:
                self.save_checkpoint()
                last_checkpoint = time.monotonic()
        return self._finish()

    def _finish(self) -> TrainOutcome:
        cancelled = self.stop_event.is_set() and not self._out_of_time()
        metrics: dict[str, float] = {}
        sheet = None
        if self.context.is_main:
            validation = self.last_validation
            if validation is None or validation.step != self.step:
                validation = self.validate()
            self.save_checkpoint()
            metrics, sheet = validation.metrics, validation.sample_sheet
        status: Status = "cancelled" if cancelled else "finished"
        served = self.served_generator.eval()
        return TrainOutcome(status, self.step, self.elapsed_s, metrics, sheet, served)
