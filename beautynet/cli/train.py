"""`beautynet train`: teach a model a new kind of beauty from a dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from beautynet.components.engine import build_engine
from engine.core import Engine
from engine.errors import EngineError
from engine.nets import UPSAMPLE_KINDS
from engine.training import (
    Progress,
    TrainConfig,
    TrainDefaults,
    TrainerCallback,
    TrainResult,
    Validation,
    make_train_config,
    parse_duration,
)
from engine.training.augment import POLICIES
from engine.training.distributed import launched_as_main
from engine.training.losses import GAN_LOSSES
from infra.db.errors import SchemaError
from infra.settings import Settings

from .common import add_device_argument
from .records import training_ended, training_started


class ProgressBar(TrainerCallback):
    """tqdm bar with the losses; one line per validation."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def on_step(self, progress: Progress) -> None:
        if self.bar is None:
            self.bar = tqdm(total=progress.total_steps, initial=progress.step - 1, unit="step")
        self.bar.update(1)
        self.bar.set_postfix(
            epoch=progress.epoch,
            img_s=f"{progress.images_per_s:.1f}",
            eta=f"{(progress.eta_s or 0) / 60:.0f}m",
            **{k: f"{v:.3f}" for k, v in progress.losses.items()},
        )

    def on_validation(self, validation: Validation) -> None:
        metrics = " ".join(f"{k}={v:.4f}" for k, v in validation.metrics.items())
        tqdm.write(f"epoch {validation.epoch} step {validation.step}: {metrics}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="dataset name (see `beautynet dataset`)")
    parser.add_argument("--name", required=True, help="model name; a new version is registered")
    parser.add_argument("--segmenter", choices=("clusters", "edges"), default="clusters")
    parser.add_argument("--k", type=int, default=7, help="clusters (clusters segmenter)")
    parser.add_argument("--size", type=int, default=256, help="training crop side")
    parser.add_argument(
        "--serve-size", type=int, help="long side the model translates at (default: --size)"
    )
    parser.add_argument("--ngf", type=int, default=64, help="generator width")
    parser.add_argument("--ndf", type=int, default=64, help="discriminator width")
    parser.add_argument(
        "--depth", type=int, help="U-Net levels (default: 8, fewer for crops under 256)"
    )
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument(
        "--init-from", help="start from this model's generator (NAME[@VERSION]), to fine-tune it"
    )
    _add_recipe_arguments(parser)
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, help="epochs (default 100 without --time-budget)")
    length.add_argument("--time-budget", help="train for this long, e.g. 2h or 90m")
    parser.add_argument("--epoch-samples", type=int, default=256, help="crops per epoch")
    parser.add_argument("--checkpoint-every", default="5m", help="checkpoint interval")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--run-dir", help="where checkpoints and samples go")
    parser.add_argument("--description", default="", help="shown in model listings")
    parser.add_argument("--licence", default="", help="licence of the training images")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    parser.set_defaults(func=train_command)


def _add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """The loss recipe; unset options keep TrainConfig's defaults (see bench/recipes.py)."""
    recipe = parser.add_argument_group("recipe (default: the winner of bench/recipes.py)")
    recipe.add_argument("--upsample", choices=UPSAMPLE_KINDS, help="generator upsampling")
    recipe.add_argument(
        "--noise",
        action=argparse.BooleanOptionalAction,
        help="per-pixel noise in the generator's decoder (texture inside flat regions)",
    )
    recipe.add_argument(
        "--input-skip",
        action=argparse.BooleanOptionalAction,
        help="the generator's last convolution also sees the input at full size (resize kinds)",
    )
    recipe.add_argument("--gan-loss", choices=GAN_LOSSES, help="adversarial loss")
    recipe.add_argument("--d-scales", type=int, help="discriminator scales (pix2pixHD)")
    recipe.add_argument(
        "--spectral-norm", action=argparse.BooleanOptionalAction, help="in the discriminator"
    )
    recipe.add_argument("--feature-matching", type=float, help="its weight; 0 turns it off")
    recipe.add_argument("--l1-weight", type=float, help="weight of the L1 loss")
    recipe.add_argument(
        "--colour-distribution",
        type=float,
        help="weight of the colour-distribution loss (asks for the photos' colours); 0: off",
    )
    recipe.add_argument(
        "--chroma-weight",
        type=float,
        help="how much more the colour-distribution loss weighs hue and saturation; 1: RGB",
    )
    recipe.add_argument(
        "--chroma-grain",
        type=float,
        help="weight of a loss on colour that changes pixel to pixel beyond the photo's; 0: off",
    )
    recipe.add_argument(
        "--light-grain",
        type=float,
        help="weight of a loss on lightness texture short of the photo's; 0: off",
    )
    recipe.add_argument(
        "--diff-augment", help=f"comma-separated parts of {','.join(POLICIES)}; '' for none"
    )
    recipe.add_argument("--lr-g", type=float, help="generator learning rate")
    recipe.add_argument("--lr-d", type=float, help="discriminator learning rate")
    recipe.add_argument(
        "--lr-decay-start", type=float, help="fraction of the run after which rates fall to 0"
    )
    recipe.add_argument(
        "--weight-average",
        type=float,
        metavar="DECAY",
        help="serve an exponential average of the generator's weights, e.g. 0.995; 0: off",
    )


def build_config(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from the command line; ValueError names a bad argument."""
    defaults = TrainDefaults(
        ngf=args.ngf,
        ndf=args.ndf,
        size=args.size,
        epochs=args.epochs or 100,
        epoch_samples=args.epoch_samples,
    )
    return make_train_config(
        args.name,
        args.segmenter,
        args.k,
        defaults,
        args.time_budget,
        depth=args.depth,
        batch_size=args.batch_size,
        checkpoint_interval_s=parse_duration(args.checkpoint_every),
        seed=args.seed,
        serve_size=args.serve_size,
        upsample=args.upsample,
        noise=args.noise,
        input_skip=args.input_skip,
        gan_loss=args.gan_loss,
        scales=args.d_scales,
        spectral_norm=args.spectral_norm,
        feature_matching=args.feature_matching,
        l1_weight=args.l1_weight,
        colour_distribution=args.colour_distribution,
        chroma_weight=args.chroma_weight,
        chroma_grain=args.chroma_grain,
        light_grain=args.light_grain,
        diff_augment=args.diff_augment,
        lr_g=args.lr_g,
        lr_d=args.lr_d,
        lr_decay_start=args.lr_decay_start,
        weight_average=args.weight_average,
        init_from=args.init_from,
    )


def train_command(args: argparse.Namespace, settings: Settings) -> int:
    """Train and register a new model version (recorded as a training run); say how to serve it."""
    try:
        config = build_config(args)
        engine = build_engine(settings, args.device)
        engine.dataset(args.dataset)  # an unknown dataset is said before any work
        # Rank 0 records the run; before any work, so an outdated schema stops it here.
        run_id = training_started(settings, args.dataset, config) if launched_as_main() else None
    except (ValueError, EngineError, SchemaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        result = _train(args, engine, config)
    except (ValueError, EngineError) as exc:
        training_ended(settings, run_id, None, str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BaseException as exc:  # interrupted, or a bug: recorded as failed, then raised
        training_ended(settings, run_id, None, type(exc).__name__)
        raise
    training_ended(settings, run_id, result)
    if result.model is None:
        return 0 if result.outcome.status == "finished" else 1  # not the main process
    metrics = " ".join(f"{k}={v}" for k, v in result.model.spec.meta.metrics.items())
    print(f"registered {result.model.spec.label} ({metrics})")
    print(f"sample sheet: {result.model.sample_sheet}")
    print(f"serve it with: beautynet models promote {result.model.name}@{result.model.version}")
    return 0


def _train(args: argparse.Namespace, engine: Engine, config: TrainConfig) -> TrainResult:
    bar = ProgressBar()
    try:
        return engine.train(
            args.dataset,
            config,
            run_dir=Path(args.run_dir) if args.run_dir else None,
            resume=args.resume,
            callbacks=[bar],
            precision=args.precision,
            description=args.description,
            licence=args.licence,
        )
    finally:
        bar.close()
