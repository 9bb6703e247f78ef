"""`beautynet translate`'s work, once its inputs have passed the door (`translate`): the
engine and the model loaded, every image and clip translated, each result written whole."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from beautynet.components.engine import build_engine
from engine.atomic import atomic_write_bytes
from engine.core import Engine
from engine.errors import EngineError
from engine.pipeline import ClipFormat, ClipTranslator, ImageTranslator, TranslateOptions
from infra.settings import Settings

from .inputs import DEFAULT_OUT, CheckedInputs

MiB = 1024 * 1024
CLIP_OUTPUTS: dict[str, ClipFormat] = {".gif": "gif", ".mp4": "mp4"}


class TranslateRun:
    """One `beautynet translate` invocation: writes results, remembers failures."""

    def __init__(
        self,
        args: argparse.Namespace,
        engine: Engine,
        translator: ImageTranslator,
        options: TranslateOptions,
        inputs: CheckedInputs,
    ) -> None:
        self.args, self.engine, self.translator, self.options = args, engine, translator, options
        self.inputs = inputs
        self.single = inputs.total == 1
        self.written: list[Path] = []
        self.panels: dict[Path, tuple[int, int]] = {}  # each still image's panel size
        self.failures = inputs.failures  # those refused at the door, then those failing here
        self._taken: set[Path] = set()

    @classmethod
    def start(
        cls,
        args: argparse.Namespace,
        settings: Settings,
        options: TranslateOptions,
        inputs: CheckedInputs,
    ) -> TranslateRun:
        """The engine with the model loaded (EngineError, ValueError: a bad option)."""
        engine = build_engine(settings, args.device, batch_size=args.batch_size)
        translator = engine.translator(args.model)
        translator.segmenter_for(options)  # refuse --k on an edges model before any work
        return cls(args, engine, translator, options, inputs)

    def translate_all(self) -> None:
        """Every image (in batches, with a progress bar when there are several), then
        every clip."""
        images, step = self.inputs.images, self.translator.batch_size
        with tqdm(total=len(images), unit="img", disable=len(images) < 2, file=sys.stderr) as bar:
            for start in range(0, len(images), step):
                self.translate(images[start : start + step])
                bar.update(len(images[start : start + step]))
        for clip in self.inputs.clips:
            self.translate_clip(clip)

    def output_path(self, source: Path, suffix: str | None = None) -> Path:
        """Where the result for `source` goes; never overwrites another result of this run."""
        if self.single and self.args.output is not None and self.args.output.suffix:
            return Path(self.args.output)
        folder = self.args.output or DEFAULT_OUT
        suffix = suffix or "." + (self.args.format or "png").replace("jpeg", "jpg")
        candidate, counter = folder / f"{source.stem}{suffix}", 1
        while candidate in self._taken:
            counter += 1
            candidate = folder / f"{source.stem}-{counter}{suffix}"
        self._taken.add(candidate)
        return candidate

    def clip_format(self) -> ClipFormat:
        """What a clip becomes: the named output's suffix (.gif or .mp4), else `auto` (an
        animation: a GIF when it fits the budget, else an MP4; a video: an MP4)."""
        if self.single and self.args.output is not None and self.args.output.suffix:
            suffix = self.args.output.suffix.lower()
            if suffix not in CLIP_OUTPUTS:
                raise ValueError(f"a clip is written as .gif (an animation) or .mp4, not {suffix}")
            return CLIP_OUTPUTS[suffix]
        return "auto"

    def translate_clip(self, path: Path) -> None:
        """Translate one clip (a video, or an animation) within the byte budget, with a frame
        progress bar; written under a temporary name, renamed once it is whole."""
        try:
            output = self.clip_format()
        except ValueError as exc:
            self.failures.append((path, str(exc)))
            return
        folder = (self.args.output if output == "auto" else self.args.output.parent) or DEFAULT_OUT
        folder.mkdir(parents=True, exist_ok=True)
        with (
            tempfile.TemporaryDirectory(prefix=".beautynet-", dir=folder) as tmp,
            tqdm(unit="frame", desc=path.name, file=sys.stderr, leave=False) as bar,
        ):

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            try:
                result = ClipTranslator(self.translator, smooth=self.args.smooth).translate(
                    path,
                    Path(tmp) / "result",
                    self.options,
                    budget_bytes=int(self.args.budget * MiB),
                    progress=progress,
                    output=output,
                )
            except EngineError as exc:
                self.failures.append((path, str(exc)))
                return
            target = self.output_path(path, result.path.suffix)
            os.replace(result.path, target)
        if result.quality_reduced:
            notes = "; ".join(result.notes)
            print(f"{path}: quality lowered to fit {self.args.budget:g} MiB ({notes})")
        if result.format_note:
            print(f"{path}: written as an MP4 ({result.format_note})")
        self.written.append(target)

    def decode(self, chunk: list[Path]) -> list[tuple[Path, Image.Image]]:
        """Decoded images of the chunk; the others are recorded as failures."""
        decoded = []
        for path in chunk:
            try:
                decoded.append((path, self.engine.read(path)))
            except EngineError as exc:
                self.failures.append((path, str(exc)))
            except OSError as exc:
                self.failures.append((path, exc.strerror or "cannot read the file"))
        return decoded

    def translate(self, chunk: list[Path]) -> None:
        """Decode, translate and write one chunk of inputs."""
        decoded = self.decode(chunk)
        if not decoded:
            return
        images = [image for _, image in decoded]
        translated = self.translator.translate(images, self.options)
        results = [
            self.translator.detailed(image, result, self.options, self.engine.largest)
            for image, result in zip(images, translated, strict=True)
        ]
        spec, panels = self.translator.model.spec, self.options.panels
        for (path, _), result in zip(decoded, results, strict=True):
            target = self.output_path(path)
            fmt = self.args.format or Engine.output_format(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            encoded = self.engine.encode(result, panels, spec, fmt)
            atomic_write_bytes(target, encoded.data)
            self.written.append(target)
            self.panels[target] = encoded.panel
