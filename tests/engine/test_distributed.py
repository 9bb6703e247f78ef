"""torchrun with two CPU processes (gloo): DDP keeps the replicas identical."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from engine.nets import GeneratorConfig, UnetGenerator

WORKER = Path(__file__).with_name("ddp_worker.py")


def test_two_processes_end_with_identical_weights(tmp_path: Path, photo) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(4):
        photo(96, 80, seed=seed).save(photos / f"{seed}.png")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        str(WORKER),
        str(photos),
        str(tmp_path),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert rank0["step"] == rank1["step"] == 4
    torch.manual_seed(0)
    initial = UnetGenerator(GeneratorConfig(ngf=4, depth=6)).state_dict()
    changed = 0
    for key, value in rank0["weights"].items():
        assert torch.equal(value, rank1["weights"][key]), key
        changed += not torch.equal(value, initial[key])
    assert changed > 0, "training did not move the weights"
    assert len(list((tmp_path / "models").glob("ddp-v1.pt"))) == 1  # only rank 0 registers
