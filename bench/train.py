"""Training images/s at size 256: the paper's setup (batch 1, fp32) against ours.

For each generator width it times full pix2pix steps (segmentation of fresh crops,
discriminator and generator updates) and prints the median images/s of
(a) batch 1 in fp32, as in pix2pix, and (b) the given batch size and precision
("auto" = bf16 on CUDA or AMX CPUs, fp16 on older GPUs), and the ratio (b)/(a).

Run from the repository root: .venv/bin/python -m bench.train [--ngf 32 64] [--steps 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench.common import describe_machine, photo_like
from engine.device import resolve_device
from engine.imaging.tensors import to_tensor
from engine.nets import DiscriminatorConfig, GeneratorConfig
from engine.training import TrainConfig, Trainer


def images_per_second(
    ngf: int, batch: int, precision: str, steps: int, device: torch.device, run_dir: Path
) -> tuple[float, str]:
    """Median images/s over `steps` steps (after 2 warm-up steps), and the precision used."""
    config = TrainConfig(
        model_name="bench",
        generator=GeneratorConfig(ngf=ngf),
        discriminator=DiscriminatorConfig(ndf=64),
        batch_size=batch,
        epochs=1000,
    )
    photos = [(to_tensor(photo_like(640, 480, seed)) * 255).byte() for seed in range(4)]
    trainer = Trainer(config, photos[:3], photos[3:], run_dir, device, precision=precision)  # type: ignore[arg-type]
    for _ in range(2):
        trainer.train_step()
    times = []
    for _ in range(steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        trainer.train_step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times), trainer.precision


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ngf", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--batch-size", type=int, default=0, help="default: 4 on CPU, 64 on CUDA")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    batch = args.batch_size or (64 if device.type == "cuda" else 4)
    print(describe_machine())
    print(f"pix2pix training steps at 256x256, ndf=64, median of {args.steps} steps")
    with tempfile.TemporaryDirectory() as tmp:
        for ngf in args.ngf:
            base, _ = images_per_second(ngf, 1, "fp32", args.steps, device, Path(tmp))
            ours, precision = images_per_second(
                ngf, batch, args.precision, args.steps, device, Path(tmp)
            )
            print(
                f"ngf={ngf:<3} (a) batch 1 fp32: {base:8.2f} img/s   "
                f"(b) batch {batch} {precision}: {ours:8.2f} img/s   ratio {ours / base:.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
