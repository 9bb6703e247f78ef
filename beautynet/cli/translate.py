"""`beautynet translate`: images and clips (files or folders) -> side-by-side interpretations."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from beautynet.components import build_engine
from engine.atomic import atomic_write_bytes
from engine.core import Engine
from engine.errors import EngineError
from engine.pipeline import ClipFormat, ClipTranslator, ImageTranslator, TranslateOptions
from engine.pipeline.clips import MAX_SMOOTH
from infra.settings import Settings

from .common import add_network_arguments

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
CLIP_SUFFIXES = {".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v"}
MiB = 1024 * 1024
DEFAULT_OUT = Path("beautynet-out")
CLIP_OUTPUTS: dict[str, ClipFormat] = {".gif": "gif", ".mp4": "mp4"}


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="files or folders")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help=f"output file (one input) or folder (default: ./{DEFAULT_OUT})",
    )
    parser.add_argument("--model", help="model name, or NAME@VERSION (default: the default model)")
    parser.add_argument("--k", type=int, help="number of clusters (clusters models only)")
    parser.add_argument(
        "--panels",
        type=int,
        choices=(2, 3),
        default=2,
        help="2: original | interpretation; 3: adds the segmentation",
    )
    parser.add_argument(
        "--size", type=int, help="long side fed to the network (default: the model's)"
    )
    parser.add_argument("--format", choices=("png", "jpeg", "webp"), help="output format")
    parser.add_argument(
        "--budget", type=float, default=10.0, help="largest clip output, in MiB (default 10)"
    )
    parser.add_argument(
        "--smooth",
        type=_smooth,
        default=0.0,
        help=f"clips: blend each interpretation with the previous one, 0 (off) to {MAX_SMOOTH}",
    )
    parser.add_argument("--batch-size", type=int, default=0, help="images per network call")
    add_network_arguments(parser)
    parser.set_defaults(func=translate_command)


def _smooth(text: str) -> float:
    value = float(text)
    if not 0 <= value <= MAX_SMOOTH:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_SMOOTH}, got {text}")
    return value


def collect_inputs(paths: Sequence[Path]) -> Iterator[Path]:
    """Named files as they are; folders searched recursively for image-named files."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in IMAGE_SUFFIXES | CLIP_SUFFIXES
                and not p.name.startswith(".")
            )
        else:
            yield path


class TranslateRun:
    """One `beautynet translate` invocation: writes results, remembers failures."""

    def __init__(
        self,
        args: argparse.Namespace,
        engine: Engine,
        translator: ImageTranslator,
        options: TranslateOptions,
        total: int,
    ) -> None:
        self.args, self.engine, self.translator, self.options = args, engine, translator, options
        self.single = total == 1
        self.written: list[Path] = []
        self.failures: list[tuple[Path, str]] = []
        self._taken: set[Path] = set()

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
        results = self.translator.translate([image for _, image in decoded], self.options)
        spec, panels = self.translator.model.spec, self.options.panels
        for (path, _), result in zip(decoded, results, strict=True):
            target = self.output_path(path)
            fmt = self.args.format or Engine.output_format(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, self.engine.encode(result, panels, spec, fmt).data)
            self.written.append(target)

    def where(self) -> str:
        """Where the results went: the file, or the folder and how many files."""
        if len(self.written) == 1:
            return f"wrote {self.written[0]}"
        folder = self.args.output or DEFAULT_OUT
        return f"wrote {len(self.written)} files in {folder}{os.sep}"


def is_clip(path: Path) -> bool:
    """A video or an animation, by the engine's one rule (its content, never its name)."""
    try:
        return Engine.kind(path) == "clip"
    except OSError:
        return False  # not readable: the image path reports why


def translate_command(args: argparse.Namespace, settings: Settings) -> int:
    """Translate every input; bad ones are reported on one line each, the rest still run."""
    try:
        options = TranslateOptions(k=args.k, panels=args.panels, size=args.size)
        engine = build_engine(settings, args.device, batch_size=args.batch_size)
        translator = engine.translator(args.model)
        translator.segmenter_for(options)  # reject --k on an edges model before any work
    except (EngineError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sources = list(collect_inputs(args.inputs))
    clips = [path for path in sources if is_clip(path)]
    images = [path for path in sources if path not in set(clips)]
    run = TranslateRun(args, engine, translator, options, len(sources))
    step = translator.batch_size
    with tqdm(total=len(images), unit="img", disable=len(images) < 2, file=sys.stderr) as bar:
        for start in range(0, len(images), step):
            run.translate(images[start : start + step])
            bar.update(len(images[start : start + step]))
    for clip in clips:
        run.translate_clip(clip)
    for path, reason in run.failures:
        print(f"{path}: {reason}", file=sys.stderr)
    failed = f"; {len(run.failures)} failed" if run.failures else ""
    print(f"translated {len(run.written)} of {len(sources)}{failed}")
    if run.written:
        print(run.where())
    return 1 if run.failures or not sources else 0
