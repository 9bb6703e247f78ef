"""The engine's front door: every operation the bot, the engine service and the CLI use.

Translation (images batched, clips with progress), the model catalogue, datasets and
training are written here once. The adapters (the bot's in-process client, the HTTP views,
the command line) choose the threads that run them and the shape of their answers.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from engine.built import BuiltOnce
from engine.datasets import (
    AddReport,
    Manifest,
    MemoryFile,
    Source,
    add_sources,
    image_paths,
    list_datasets,
    load_manifest,
)
from engine.device import Precision, torch_threads
from engine.errors import InputError, ModelError, NotConfiguredError
from engine.imaging import (
    ImageFormat,
    ImageLimits,
    decode_image,
    encode_within,
    format_from_path,
    grid,
    read_image,
)
from engine.machine import MachineStore, file_digest
from engine.models import ModelEntry, ModelRegistry, ModelSpec, ModelVersion, load_model
from engine.names import check_name, inside, parse_model_ref
from engine.pipeline import (
    DEFAULT_LARGEST,
    ClipFormat,
    ClipResult,
    ClipTranslator,
    ImageTranslator,
    TranslateOptions,
    Translation,
)
from engine.runtimes import AUTO, RuntimeInfo, check_runtime
from engine.threads import default_streams
from engine.training import (
    Progress,
    TrainConfig,
    TrainDefaults,
    TrainerCallback,
    TrainingData,
    TrainResult,
    Validation,
    make_train_config,
    run_training,
)
from engine.training.detail import DetailConfig, run_detail_training
from engine.video import ClipLimits, Kind, kind_of

ClipProgress = Callable[[int, int], None]  # (frames done, total), from the working thread

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Encoded:
    """An encoded result image and how it was made."""

    data: bytes
    model: ModelSpec  # the model version that made it (name, version, label)
    width: int
    height: int
    quality_reduced: bool = False  # made smaller to fit its byte budget
    notes: list[str] = field(default_factory=list)
    panel: tuple[int, int] = (0, 0)  # the interpretation's width and height, as encoded


@dataclass(frozen=True)
class Compared:
    """One image through several models: a labelled grid, one row a model."""

    data: bytes
    models: list[ModelSpec]
    width: int
    height: int
    quality_reduced: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TrainingProgress:
    """A training snapshot: after a step, or (with sample_sheet) after a validation."""

    step: int
    total_steps: int | None
    epoch: int
    eta_s: float | None
    losses: dict[str, float]
    sample_sheet: bytes | None = None


class _Relay(TrainerCallback):
    """Trainer callbacks -> TrainingProgress snapshots (called from the training thread)."""

    def __init__(self, progress: Callable[[TrainingProgress], None]) -> None:
        self.progress = progress

    def on_step(self, progress: Progress) -> None:
        self.progress(
            TrainingProgress(
                progress.step,
                progress.total_steps,
                progress.epoch,
                progress.eta_s,
                dict(progress.losses),
            )
        )

    def on_validation(self, validation: Validation) -> None:
        if validation.sample_sheet.is_file():
            sheet = validation.sample_sheet.read_bytes()
            self.progress(
                TrainingProgress(validation.step, None, validation.epoch, None, {}, sheet)
            )


class Engine:
    """Models by name (loaded once, in one thread-safe cache), and every engine operation.

    Every method blocks (disk, network, decoding): call it from a worker thread.
    """

    def __init__(
        self,
        registry: ModelRegistry,
        device: torch.device,
        runtime: str = AUTO,
        limits: ImageLimits = ImageLimits(),
        batch_size: int = 0,
        cache_size: int = 3,
        *,
        streams: int = 0,
        clip_limits: ClipLimits = ClipLimits(),
        datasets_dir: Path | None = None,
        runs_dir: Path | None = None,
        machine_dir: Path | None = None,
        train_defaults: TrainDefaults = TrainDefaults(),
        largest: int = DEFAULT_LARGEST,
    ) -> None:
        self.registry = registry
        self.device = device
        self.runtime = check_runtime(runtime)  # `auto` or one of engine.runtimes.RUNTIMES
        self.limits = limits
        self.batch_size = batch_size  # 0: each model's fastest, measured at load
        # The threads every model's network runs on, fixed now: a model loaded while frames
        # run elsewhere (each on one thread, `one_cpu_thread`) must still get them all.
        self.threads = torch_threads()
        # Batches an exported runtime runs at once (0: two once there are two threads).
        self.streams = streams or default_streams(self.threads)
        self.clip_limits = clip_limits
        self.datasets_dir, self.runs_dir = datasets_dir, runs_dir
        self.machine_dir = machine_dir  # what loading measures here is kept (None: not kept)
        self.train_defaults = train_defaults
        self.largest = largest  # a photo's answer, by default, with a detail network
        # Loading takes seconds (the runtime is built, the batch size measured): outside
        # the lock, so that models already loaded (and /healthz) are not kept waiting.
        self._loaded: BuiltOnce[tuple[str, int], ImageTranslator] = BuiltOnce(cache_size)

    def configured(self, **changes: Any) -> Engine:
        """This engine with other limits or folders (None keeps its own), sharing its
        registry and its loaded models."""
        other = copy.copy(self)
        for name, value in changes.items():
            if not hasattr(self, name) or name.startswith("_"):
                raise ValueError(f"an engine has no setting {name!r}")
            if value is not None:
                setattr(other, name, value)
        return other

    # ---- translation ---------------------------------------------------------------------
    def translator(self, model: str | None = None) -> ImageTranslator:
        """A translator for `model` ('name' or 'name@version'; None = the default model).

        The lookup reads no model file; a version is loaded once and kept (the last few).
        """
        entry = self._entry(model)
        return self._loaded.get((entry.name, entry.version), lambda: self._load(entry))

    def to_load(self, model: str | None = None) -> str | None:
        """The label of the version `translator(model)` would have to load first ('nature
        v7'), or None when it is loaded: a live page says so rather than freezing."""
        entry = self._entry(model)
        return None if self._loaded.built((entry.name, entry.version)) else entry.spec.label

    def _entry(self, model: str | None) -> ModelEntry:
        name, version = parse_model_ref(model) if model else (None, None)
        return self.registry.get(name, version)

    def _load(self, entry: ModelEntry) -> ImageTranslator:
        store = None
        if self.machine_dir is not None:
            store = MachineStore(self.machine_dir, file_digest(entry.path))
        model = load_model(entry.path, self.device)
        translator = ImageTranslator(
            model,
            self.runtime,
            self.batch_size,
            threads=self.threads,
            streams=self.streams,
            store=store,
        )
        log.info("loaded %s", translator.describe())
        return translator

    def runtimes(self) -> dict[str, RuntimeInfo]:
        """How each loaded model runs, by label ('nature v7')."""
        return {t.model.spec.label: t.runtime for t in self._loaded.ready()}

    def runtime_lines(self) -> list[str]:
        """'nature v7 on openvino-fp32, batch 1, 2 streams' for each loaded model."""
        return [translator.describe() for translator in self._loaded.ready()]

    # decode -> translate (`translator`) -> encode: every adapter goes through these doors.
    def decode(
        self, data: bytes, *, max_bytes: int | None = None, max_pixels: int | None = None
    ) -> Image.Image:
        """An untrusted still image decoded within the engine's limits, narrowed by the
        caller's (live frames: camera-sized); InputError says why not (a clip or an animation
        is not a still image: it goes to `translate_clip`)."""
        if kind_of(data) == "clip":
            raise InputError("this is a clip (a video or an animation), not a still image")
        limits = ImageLimits(
            min(self.limits.max_bytes, max_bytes or self.limits.max_bytes),
            min(self.limits.max_pixels, max_pixels or self.limits.max_pixels),
        )
        return decode_image(data, limits)

    def read(self, path: Path) -> Image.Image:
        """An image file decoded within the engine's limits, its size checked before reading."""
        return read_image(path, self.limits)

    @staticmethod
    def encode(
        translation: Translation,
        panels: int,
        model: ModelSpec,
        fmt: ImageFormat = "png",
        *,
        original: bool = True,
        quality: int = 90,
        budget_bytes: int | None = None,
    ) -> Encoded:
        """Compose the panels (with the original, unless told not to) and encode them, made
        smaller when they must fit budget_bytes (None: any size)."""
        composed = translation.compose(3 if panels == 3 else 2, original=original)
        data, image, notes = encode_within(composed, fmt, budget_bytes, quality)
        shrunk = image.width / composed.width
        width, height = translation.interpretation.size
        panel = (round(width * shrunk), round(height * shrunk))
        return Encoded(data, model, image.width, image.height, bool(notes), notes, panel)

    @staticmethod
    def kind(data: bytes | Path) -> Kind:
        """'clip' (a video, or an animated GIF, WebP or PNG) or 'image': the one rule."""
        return kind_of(data)

    @staticmethod
    def output_format(path: Path) -> ImageFormat:
        """The format an output file's name asks for (ValueError: none)."""
        return format_from_path(path)

    def translate_bytes(
        self,
        data: bytes,
        model: str | None = None,
        options: TranslateOptions = TranslateOptions(),
        fmt: ImageFormat = "png",
        budget_bytes: int | None = None,
    ) -> Encoded:
        """Decode an untrusted still image, translate it, and encode the side-by-side result
        within budget_bytes (None: any size)."""
        image = self.decode(data)
        translator = self.translator(model)
        (result,) = translator.translate([image], options)
        result = translator.detailed(image, result, options, self.largest)
        spec = translator.model.spec
        return self.encode(result, options.panels, spec, fmt, budget_bytes=budget_bytes)

    def compare(
        self, data: bytes, models: Sequence[str], budget_bytes: int | None = None
    ) -> Compared:
        """One still image through each model ('name' or 'name@version'): one labelled grid
        (PNG), a row original | interpretation for each, within budget_bytes."""
        if not models:
            raise ValueError("models must name at least one model")
        if kind_of(data) == "clip":
            raise InputError("compare works on still images, not clips")
        image = self.decode(data)
        rows, labels, specs = [], [], []
        for model in models:
            translator = self.translator(model)
            (result,) = translator.translate([image])
            rows.append([result.original, result.interpretation])
            labels.append(translator.model.spec.label)
            specs.append(translator.model.spec)
        encoded, sheet, notes = encode_within(grid(rows, labels), "png", budget_bytes)
        return Compared(encoded, specs, sheet.width, sheet.height, bool(notes), notes)

    def translate_clip(
        self,
        data: bytes,
        translator: ImageTranslator,
        options: TranslateOptions,
        folder: Path,
        budget_bytes: int,
        progress: ClipProgress | None = None,
        output: ClipFormat = "auto",
        max_seconds: float | None = None,
    ) -> ClipResult:
        """Translate an untrusted clip into `folder`/beautynet.mp4, or .gif (an animation,
        `output` auto or gif), of at most budget_bytes; `max_seconds` narrows the length limit."""
        if len(data) > self.clip_limits.max_bytes:
            raise InputError(f"the clip is too large ({len(data)} bytes)")
        if kind_of(data) != "clip":
            raise InputError("this is a still image, not a clip (a video or an animation)")
        limits = self.clip_limits
        if max_seconds is not None and max_seconds < limits.max_seconds:
            limits = replace(limits, max_seconds=max_seconds)
        source, target = folder / "input", folder / "beautynet.mp4"
        source.write_bytes(data)
        try:
            return ClipTranslator(translator).translate(
                source, target, options, limits, budget_bytes, progress, output
            )
        finally:
            source.unlink(missing_ok=True)

    # ---- the model catalogue -------------------------------------------------------------
    def model_versions(self) -> list[ModelVersion]:
        """Every installed model version, with which ones are served and the default."""
        return self.registry.versions()

    def model(self, name: str | None = None, version: int | None = None) -> ModelEntry:
        """A model version (default: the default model, the version its name serves)."""
        return self.registry.get(name, version)

    def sample_sheet(self, name: str, version: int) -> bytes:
        """The validation sample sheet saved with a model version (PNG)."""
        entry = self.registry.get(name, version)
        if entry.sample_sheet is None:
            raise ModelError(f"{entry.spec.label} has no sample sheet")
        return entry.sample_sheet.read_bytes()

    def promote(self, name: str, version: int | None = None) -> ModelEntry:
        """Serve `version` (default: newest) of `name`, and make `name` the default model."""
        return self.registry.promote(name, version)

    def rollback(self, name: str) -> ModelEntry:
        """Undo the last promotion of `name`; returns the version now served."""
        return self.registry.rollback(name)

    def delete(self, name: str, version: int) -> None:
        """Remove a user model version (never a bundled or served one)."""
        self.registry.delete(name, version)

    # ---- datasets ------------------------------------------------------------------------
    def datasets_folder(self) -> Path:
        """Where datasets live (NotConfiguredError when this engine has none)."""
        if self.datasets_dir is None:
            raise NotConfiguredError("datasets are not configured on this engine")
        return self.datasets_dir

    def datasets(self) -> list[Manifest]:
        """Every dataset."""
        return list_datasets(self.datasets_folder())

    def dataset(self, name: str) -> Manifest:
        """One dataset (DatasetNotFoundError when there is none by that name)."""
        return load_manifest(self.datasets_folder(), name)

    def add_images(self, name: str, files: Sequence[tuple[str, bytes]]) -> AddReport:
        """Decode, deduplicate and store untrusted (filename, bytes) in dataset `name`."""
        sources: list[Source] = [MemoryFile(filename, data) for filename, data in files]
        return add_sources(self.datasets_folder(), name, sources, limits=self.limits)

    # ---- training ------------------------------------------------------------------------
    def train_config(
        self, name: str, segmenter: str, k: int, time_budget: str | None = None
    ) -> TrainConfig:
        """A run's hyper-parameters from this engine's defaults; ValueError names a bad one
        (the model name by the one rule of `engine.names`)."""
        return make_train_config(check_name(name), segmenter, k, self.train_defaults, time_budget)

    def runs_folder(self) -> Path:
        """Where training runs live (NotConfiguredError when this engine has none)."""
        if self.runs_dir is None:
            raise NotConfiguredError("training is not configured on this engine")
        return self.runs_dir

    def train_detail(
        self,
        model: str,
        dataset: str,
        config: DetailConfig,
        run_dir: Path | None = None,
        resume: bool = False,
        precision: Precision = "auto",
    ) -> ModelEntry:
        """Train `model`'s detail network on `dataset` and register the model with it as a
        new version (served once promoted)."""
        base = self._entry(model)
        self.dataset(dataset)  # an unknown dataset is said before any work
        paths = image_paths(self.datasets_folder(), dataset)
        run_dir = run_dir or inside(self.runs_folder(), f"{base.name}-detail")
        return run_detail_training(
            base,
            paths,
            config,
            run_dir,
            self.registry,
            self.device,
            resume=resume,
            precision=precision,
        )

    def train(
        self,
        dataset: str,
        config: TrainConfig,
        *,
        trained_by: str = "",
        progress: Callable[[TrainingProgress], None] | None = None,
        stop: threading.Event | None = None,
        callbacks: Sequence[TrainerCallback] = (),
        run_dir: Path | None = None,
        resume: bool = False,
        precision: Precision = "auto",
        description: str = "",
        licence: str = "",
    ) -> TrainResult:
        """Train on `dataset` and register the new version (served once promoted).

        `progress` follows the run, `stop` ends it early; the rest is `run_training`'s.
        """
        name = check_name(config.model_name)  # names the run's folder and the model: first
        run_dir = run_dir or inside(self.runs_folder(), name)
        manifest = self.dataset(dataset)
        paths = image_paths(self.datasets_folder(), dataset)
        data = TrainingData(paths, f"dataset {manifest.name}: {len(paths)} images", licence)
        relay = [_Relay(progress)] if progress else []
        return run_training(
            config,
            data,
            run_dir,
            self.registry,
            self.device,
            resume=resume,
            callbacks=[*callbacks, *relay],
            stop_event=stop,
            precision=precision,
            description=description,
            trained_by=trained_by,
        )
