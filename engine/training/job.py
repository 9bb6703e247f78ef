"""A whole training job: data, the trainer, and registering the model when it finishes.

The same entry point runs alone or under `torchrun --nproc-per-node N`; only the main
process writes checkpoints, samples and the model.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import torch

from engine.device import Precision
from engine.imaging import ImageLimits
from engine.models import (
    Model,
    ModelEntry,
    ModelMeta,
    ModelRegistry,
    ModelSpec,
    load_model,
    parse_model_ref,
)
from engine.nets import DetailEnhancer, weights_fit

from .callbacks import TrainerCallback
from .config import TrainConfig
from .data import load_photos, split_holdout
from .detail import train_detail_network
from .distributed import device_for, init_distributed, shutdown
from .trainer import Trainer, TrainOutcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingData:
    """The photos to learn from, and where they came from (stored with the model)."""

    paths: Sequence[Path]
    description: str  # e.g. "dataset nature: 25 images"
    licence: str = ""

    def digest(self) -> str:
        """A short fingerprint of the exact image set."""
        hashes = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in self.paths)
        return hashlib.sha256("".join(hashes).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrainResult:
    """What a job produced: the outcome, and the registered model if it finished."""

    outcome: TrainOutcome
    model: ModelEntry | None


def run_training(
    config: TrainConfig,
    data: TrainingData,
    run_dir: Path,
    registry: ModelRegistry,
    device: torch.device,
    *,
    resume: bool = False,
    callbacks: Sequence[TrainerCallback] = (),
    stop_event: threading.Event | None = None,
    precision: Precision = "auto",
    description: str = "",
    trained_by: str = "",
) -> TrainResult:
    """Train; a finished run registers a new model version (served once promoted)."""
    context = init_distributed(device)
    device = device_for(context, device)
    try:
        config, initial_generator = resolve_init(config, registry)
        train_paths, val_paths = split_holdout(list(data.paths), config.val_fraction, config.seed)
        limits = ImageLimits()
        trainer = Trainer(
            config,
            load_photos(train_paths, limits),
            load_photos(val_paths, limits),
            run_dir,
            device,
            callbacks,
            stop_event,
            context,
            precision,
            initial_generator,
        )
        outcome = trainer.run(resume=resume)
        model = None
        if outcome.status == "finished" and context.is_main:
            enhancer = _detail(config, data, outcome, run_dir, device, resume, precision)
            model = _register(
                config, data, registry, outcome, description, trained_by, len(val_paths), enhancer
            )
        return TrainResult(outcome, model)
    finally:
        shutdown(context)


def resolve_init(
    config: TrainConfig, registry: ModelRegistry
) -> tuple[TrainConfig, dict[str, torch.Tensor] | None]:
    """Pin `init_from` to a version and read that generator's weights (None: random weights).

    ValueError when the model's generator does not fit the one this run trains (see
    `weights_fit`), or when it read another kind of segmentation: its weights would load, and
    the run would quietly start from a model of another input.
    """
    if not config.init_from:
        return config, None
    entry = registry.get(*parse_model_ref(config.init_from))
    if not weights_fit(entry.spec.generator, config.generator):
        raise ValueError(
            f"init_from: {entry.spec.label} has generator {entry.spec.generator}, "
            f"this run trains {config.generator}"
        )
    if entry.spec.segmenter.kind != config.segmenter.kind:
        raise ValueError(
            f"init_from: {entry.spec.label} reads {entry.spec.segmenter.kind} input, "
            f"this run reads {config.segmenter.kind}"
        )
    weights = load_model(entry.path, torch.device("cpu")).generator.state_dict()
    pinned = replace(config, init_from=f"{entry.name}@{entry.version}")
    return pinned, {key: value.float() for key, value in weights.items()}


def _detail(
    config: TrainConfig,
    data: TrainingData,
    outcome: TrainOutcome,
    run_dir: Path,
    device: torch.device,
    resume: bool,
    precision: Precision,
) -> DetailEnhancer | None:
    """The detail network the config asks for, trained for the new generator (None: none)."""
    if config.detail is None:
        return None
    spec = ModelSpec(
        ModelMeta(config.model_name), config.generator, config.segmenter, _side(config)
    )
    model = Model(spec, outcome.generator.eval())
    enhancer, _ = train_detail_network(
        model,
        data.paths,
        config.detail,
        run_dir / "detail",
        device,
        resume=resume,
        precision=precision,
    )
    return enhancer


def _side(config: TrainConfig) -> int:
    """The long side the model translates at."""
    return config.serve_size or config.size


def _register(
    config: TrainConfig,
    data: TrainingData,
    registry: ModelRegistry,
    outcome: TrainOutcome,
    description: str,
    trained_by: str,
    held_out: int,
    enhancer: DetailEnhancer | None,
) -> ModelEntry:
    metrics = {f"val_{key}": round(value, 4) for key, value in outcome.metrics.items()}
    metrics.update(steps=outcome.steps, train_seconds=round(outcome.elapsed_s, 1))
    provenance = f"{data.description} (sha256 {data.digest()}; {held_out} held out)"
    if config.init_from:
        provenance += f"; fine-tuned from {config.init_from}"
    meta = ModelMeta(
        name=config.model_name,
        description=description,
        training_data=provenance,
        licence=data.licence,
        metrics=metrics,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        trained_by=trained_by,
    )
    detail = None if enhancer is None else enhancer.cfg
    spec = ModelSpec(meta, config.generator, config.segmenter, _side(config), detail)
    entry = registry.register(spec, outcome.generator.cpu(), outcome.sample_sheet, enhancer)
    log.info("registered %s at %s", entry.spec.label, entry.path)
    return entry
