"""Which training recipe gives the best interpretations for the same short budget?

Trains each variant, a cumulative ablation from pix2pix (Isola et al. 2017) towards the
pix2pixHD / SPADE recipe, on the train split of `data/beautiful` for the same number of
seconds of training steps on this machine, then measures it with `bench.quality` (grid
index, colour-distance ratio, sharpness, held-out L1/PSNR/SSIM) and prints one table.
The variant marked "defaults" is what `TrainConfig` does when nothing is said.

Run from the repository root:
    .venv/bin/python -m bench.recipes [--budget 180] [--segmenter clusters] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from bench.common import describe_machine
from bench.quality import (
    HEADER,
    SIZE,
    EvalSet,
    QualityReport,
    dataset_split,
    load_eval_set,
    measure,
)
from engine.device import resolve_device
from engine.imaging.tensors import to_tensor
from engine.models import Model, ModelMeta, ModelSpec
from engine.nets import DiscriminatorConfig, GeneratorConfig
from engine.segment import ClustersConfig, EdgesConfig
from engine.training import TrainConfig, Trainer

PIX2PIX: dict[str, Any] = {
    "gan_loss": "bce",
    "feature_matching": 0.0,
    "diff_augment": "",
    "l1_weight": 100.0,
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "lr_decay_start": 1.0,
}
PIX2PIX_NETS: dict[str, Any] = {
    "upsample": "transpose",
    "noise": False,
    "scales": 1,
    "spectral_norm": False,
}

# name -> (changes to the recipe, changes to the networks), each on top of the previous one.
STEPS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("pix2pix (v1 recipe)", {}, {}),
    ("+ nearest upsampling", {}, {"upsample": "nearest"}),
    (
        "+ hinge, SN, TTUR",
        {"gan_loss": "hinge", "lr_g": 1e-4, "lr_d": 4e-4},
        {"spectral_norm": True},
    ),
    ("+ 2 scales, FM 10", {"feature_matching": 10.0}, {"scales": 2}),
    ("+ L1 10", {"l1_weight": 10.0}, {}),
    ("+ DiffAugment", {"diff_augment": "translation,cutout"}, {}),
    ("+ lr decay", {"lr_decay_start": 0.5}, {}),
    ("+ DiffAugment color (defaults)", {"diff_augment": "color,translation,cutout"}, {}),
]
ALTERNATIVES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # (name, based on, recipe changes, network changes)
    ("+ lr decay, pixelshuffle", "+ lr decay", {}, {"upsample": "pixelshuffle"}),
    ("+ lr decay, L1 100", "+ lr decay", {"l1_weight": 100.0}, {}),
    ("defaults + noise", "+ DiffAugment color (defaults)", {}, {"noise": True}),
    (
        "defaults + noise, L1 0",
        "+ DiffAugment color (defaults)",
        {"l1_weight": 0.0},
        {"noise": True},
    ),
]


def variants() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Every variant's full (recipe, networks) settings, in table order."""
    out: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    recipe, nets = dict(PIX2PIX), dict(PIX2PIX_NETS)
    for name, recipe_change, nets_change in STEPS:
        recipe, nets = {**recipe, **recipe_change}, {**nets, **nets_change}
        out[name] = (recipe, nets)
    for name, base, recipe_change, nets_change in ALTERNATIVES:
        out[name] = ({**out[base][0], **recipe_change}, {**out[base][1], **nets_change})
    return out


def build_config(
    recipe: dict[str, Any], nets: dict[str, Any], args: argparse.Namespace
) -> TrainConfig:
    depth = 7 if args.size % 256 else 8
    return TrainConfig(
        model_name="recipe",
        segmenter=ClustersConfig(k=7) if args.segmenter == "clusters" else EdgesConfig(),
        generator=GeneratorConfig(
            ngf=args.ngf, depth=depth, upsample=nets["upsample"], noise=nets["noise"]
        ),
        discriminator=DiscriminatorConfig(
            ndf=args.ngf, scales=nets["scales"], spectral_norm=nets["spectral_norm"]
        ),
        size=args.size,
        batch_size=args.batch_size,
        epochs=None,
        time_budget_s=args.budget,
        epoch_samples=10**9,  # validation is bench.quality's job
        checkpoint_interval_s=10**9,
        **recipe,
    )


def train_and_measure(
    name: str,
    config: TrainConfig,
    train: list[torch.Tensor],
    eval_set: EvalSet,
    device: torch.device,
) -> tuple[QualityReport, int]:
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, train, train[:1], Path(tmp), device)
        outcome = trainer.run()
    spec = ModelSpec(ModelMeta("recipe"), config.generator, config.segmenter, SIZE)
    return measure(Model(spec, outcome.generator), eval_set, label=name), outcome.steps


def as_uint8(image: Image.Image) -> torch.Tensor:
    return (to_tensor(image) * 255).round().to(torch.uint8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=180.0, help="seconds of training each")
    parser.add_argument("--segmenter", choices=("clusters", "edges"), default="clusters")
    parser.add_argument("--size", type=int, default=128, help="training crop side")
    parser.add_argument("--ngf", type=int, default=16, help="generator and discriminator width")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--only", nargs="+", help="variant names to run (default: all)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(describe_machine())
    print(
        f"{args.segmenter}, crops {args.size} px, ngf=ndf={args.ngf}, batch {args.batch_size}, "
        f"{args.budget:.0f} s of training steps per variant; figures as bench.quality"
    )
    train_images, held_images = dataset_split()
    eval_set = load_eval_set((train_images, held_images))
    train = [as_uint8(image) for image in train_images]
    print(f"{'variant':<30}{'steps':>6} {HEADER}")
    for name, (recipe, nets) in variants().items():
        if args.only and name not in args.only:
            continue
        torch.manual_seed(0)
        report, steps = train_and_measure(
            name, build_config(recipe, nets, args), train, eval_set, device
        )
        print(f"{name:<30}{steps:>6} {report.row()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
