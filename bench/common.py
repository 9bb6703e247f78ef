"""Shared by the benchmarks: synthetic photo-like inputs and median timing."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from engine.device import cpu_has_fast_bf16
from engine.machine import cpu_model


def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """A smooth colour field with soft shapes and sensor noise: k-means sees what a photo gives."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 255, size=(3, 4, 3)).astype(np.uint8)
    image = Image.fromarray(base).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(height // 12, height // 4))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(2))
    noisy = np.asarray(image).astype(np.float32) + rng.normal(0, 5, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def interleaved_medians(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time of each run, the runs alternating so that load hits them alike.

    Every run is called once untimed first (warm-up: lazy initialisation, caches).
    """
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def describe_machine() -> str:
    """One line naming the software and hardware a figure was measured on: the CPU's model
    and whether it runs bf16 natively (AVX-512 BF16, AMX) or not (AVX2), or the GPU."""
    bf16 = "native bf16" if cpu_has_fast_bf16() else "no native bf16"
    cpu = f"{cpu_model()} ({bf16})"
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    threads = torch.get_num_threads()
    return f"torch {torch.__version__}, {cpu}, {os.cpu_count()} cpus, {threads} threads, {device}"
