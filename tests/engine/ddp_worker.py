"""Run by test_distributed.py under torchrun: train briefly, save this rank's weights."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from engine.models import ModelRegistry
from engine.nets import DiscriminatorConfig, GeneratorConfig
from engine.training import TrainConfig, TrainingData, run_training


def main(photo_dir: Path, out_dir: Path) -> None:
    torch.set_num_threads(1)
    config = TrainConfig(
        model_name="ddp",
        generator=GeneratorConfig(ngf=4, depth=6),
        discriminator=DiscriminatorConfig(ndf=4),
        size=64,
        epochs=1,
        epoch_samples=8,  # 4 steps of 1 crop on each of 2 ranks
    )
    data = TrainingData(sorted(photo_dir.glob("*.png")), "generated")
    registry = ModelRegistry(out_dir / "models", bundled_dir=out_dir / "none")
    result = run_training(
        config, data, out_dir / "run", registry, torch.device("cpu"), precision="fp32"
    )
    rank = os.environ["RANK"]
    state = {"step": result.outcome.steps, "weights": result.outcome.generator.state_dict()}
    torch.save(state, out_dir / f"rank{rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
