"""`beautynet train-detail`: train a model's detail network (issue 36) and register the model
with it as a new version, so that it answers at up to 1024 px."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from beautynet.components.engine import build_engine
from engine.errors import EngineError
from engine.specs import ENHANCER_SEGMENTATIONS, EnhancerConfig
from engine.training import parse_duration
from engine.training.config import (
    BUNDLED_DETAIL_RECIPES,
    DETAIL_JUDGED,
    DETAIL_PICTURES,
    DetailRecipe,
)
from engine.training.detail import DetailConfig
from infra.settings import Settings

from .common import add_device_argument


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="the model to add detail to: name[@version]")
    parser.add_argument("--dataset", required=True, help="the photos it was trained on")
    length = parser.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=int, help="training steps")
    length.add_argument("--time-budget", help="train for this long, e.g. 2h or 90m")
    # The network: the recipe's unless one of these is named (then EnhancerConfig's for the rest).
    parser.add_argument(
        "--channels",
        type=int,
        help="the network's width (default: "
        + _by_kind(lambda r: str(r.enhancer.channels))
        + f"; {EnhancerConfig.channels} beside --blocks or --segmentation alone)",
    )
    parser.add_argument("--blocks", type=int, help=f"default {EnhancerConfig.blocks}")
    parser.add_argument(
        "--segmentation",
        choices=ENHANCER_SEGMENTATIONS,
        help="what the network sees of the segmentation: drawn again at the answer's size, "
        "the generator's own enlarged, or (edges) traced one pixel wide there "
        f"(default {EnhancerConfig.segmentation})",
    )
    parser.add_argument("--batch-size", type=int, default=DetailConfig.batch_size)
    parser.add_argument(
        "--crop", type=int, default=DetailConfig.crop, help="crop side at the answer's size"
    )
    parser.add_argument(
        "--scales",
        type=int,
        nargs="+",
        default=None,
        help=(
            "answers this many times the model's size (crop: a multiple of twice each); "
            "scales take turns, one named twice takes two (default: "
            + _by_kind(lambda r: " ".join(map(str, r.scales)))
            + ")"
        ),
    )
    parser.add_argument(
        "--picture",
        choices=DETAIL_PICTURES,
        default=DetailConfig.picture,
        help="learn to add detail to the generator's picture or the photo's own at its size, "
        "maybe softened to the generator's sharpness, point-sampled (its edges on the "
        "generator's pixels) and lined as the generator draws (auto: "
        + _by_kind(lambda r: r.picture)
        + ")",
    )
    parser.add_argument(
        "--periodic",
        type=float,
        default=DetailConfig.periodic,
        help="weight of the loss on a pattern repeated on the pixel grid (0: none; default: "
        + _by_kind(lambda r: f"{r.periodic:g}")
        + ")",
    )
    parser.add_argument(
        "--light-grain",
        type=float,
        default=DetailConfig.light_grain,
        help="weight of the loss on texture in the light and dark short of the photo's (0: "
        "none; default: " + _by_kind(lambda r: f"{r.light_grain:g}") + ")",
    )
    parser.add_argument(
        "--judged",
        choices=DETAIL_JUDGED,
        default=DetailConfig.judged,
        help="what the discriminator sees: the detail the network adds, or that and the whole "
        "result (no echoes beside edges the picture lacks, but less detail; auto: "
        + _by_kind(lambda r: r.judged)
        + ")",
    )
    parser.add_argument(
        "--weight-average",
        type=float,
        default=DetailConfig.weight_average,
        metavar="DECAY",
        help="serve an exponential average of the network's weights, e.g. 0.999; 0: off",
    )
    parser.add_argument(
        "--lr-decay-start",
        type=float,
        default=DetailConfig.lr_decay_start,
        metavar="FRACTION",
        help="after this fraction of the run both learning rates fall linearly to 0 (1: they stay)",
    )
    parser.add_argument("--checkpoint-every", default="5m", help="checkpoint interval")
    parser.add_argument("--run-dir", help="where checkpoints and samples go")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    parser.set_defaults(func=train_detail_command)


def _by_kind(choice: Callable[[DetailRecipe], str]) -> str:
    """A recipe's choice for each segmenter kind, for a help text."""
    return ", ".join(f"{choice(r)} for {kind}" for kind, r in BUNDLED_DETAIL_RECIPES.items())


def _network(args: argparse.Namespace) -> EnhancerConfig | None:
    """The detail network the options name; None (the recipe's) when they name none."""
    named = {
        option: getattr(args, option)
        for option in ("channels", "blocks", "segmentation")
        if getattr(args, option) is not None
    }
    return EnhancerConfig(**named) if named else None


def train_detail_command(args: argparse.Namespace, settings: Settings) -> int:
    """Train, register, and say how to serve the new version."""
    try:
        config = DetailConfig(
            enhancer=_network(args),
            batch_size=args.batch_size,
            crop=args.crop,
            scales=tuple(args.scales) if args.scales else None,
            steps=args.steps,
            time_budget_s=parse_duration(args.time_budget) if args.time_budget else None,
            checkpoint_interval_s=parse_duration(args.checkpoint_every),
            seed=args.seed,
            picture=args.picture,
            periodic=args.periodic,
            light_grain=args.light_grain,
            judged=args.judged,
            weight_average=args.weight_average,
            lr_decay_start=args.lr_decay_start,
        )
        engine = build_engine(settings, args.device)
        run_dir = Path(args.run_dir) if args.run_dir else None
        entry = engine.train_detail(
            args.model, args.dataset, config, run_dir, args.resume, args.precision
        )
    except (ValueError, EngineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"registered {entry.spec.label}, with a detail network (up to 1024 px)")
    print(f"serve it with: beautynet models promote {entry.name}@{entry.version}")
    return 0
