"""Model lookups against the number of model files: the cost must not grow with it.

Writes 1 and 50 tiny model files into two folders and times `Engine.translator` for a
model already loaded (what every request does: resolve the name, reuse the loaded model),
the two folders interleaved. Run from the repository root:
    .venv/bin/python -m bench.lookup
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from bench.common import describe_machine, interleaved_medians
from engine.core import Engine
from engine.models import ModelMeta, ModelRegistry, ModelSpec, save_model
from engine.nets import GeneratorConfig, UnetGenerator
from engine.segment import ClustersConfig

TINY = GeneratorConfig(ngf=4, depth=6)
COUNTS = (1, 50)


def write_models(folder: Path, count: int) -> None:
    """`count` versions of a tiny random model called "tiny"."""
    folder.mkdir(parents=True)
    generator = UnetGenerator(TINY)
    for version in range(1, count + 1):
        meta = ModelMeta("tiny", version=version, description="lookup bench")
        save_model(
            folder / f"tiny-v{version}.pt", ModelSpec(meta, TINY, ClustersConfig(), 64), generator
        )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="beautynet-lookup-") as tmp:
        engines: dict[int, Engine] = {}
        for count in COUNTS:
            write_models(Path(tmp) / str(count), count)
            registry = ModelRegistry(Path(tmp) / str(count), bundled_dir=Path(tmp) / "none")
            engines[count] = Engine(registry, torch.device("cpu"))
        runs: dict[str, Callable[[], object]] = {
            f"{count} files": functools.partial(engines[count].translator, "tiny@1")
            for count in COUNTS
        }
        medians = interleaved_medians(runs, repeats=2000)
    print(describe_machine())
    for name, seconds in medians.items():
        print(f"lookup with {name:<9} {seconds * 1e6:7.1f} us")
    ratio = medians[f"{COUNTS[-1]} files"] / medians[f"{COUNTS[0]} files"]
    print(f"{COUNTS[-1]} files / {COUNTS[0]} file: {ratio:.2f}x")


if __name__ == "__main__":
    main()
