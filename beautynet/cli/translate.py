"""`beautynet translate`: images and clips (files or folders) -> side-by-side interpretations.

This module and `inputs` are the command's door and import nothing heavy: the options, the
names and every input (its kind, its header, its size) are checked before torch and the
model load, so a bad file is refused at once. The work itself is `translate_run`'s.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from beautynet.components.limits import image_limits
from engine.errors import EngineError
from engine.names import check_runtime, parse_model_ref
from engine.options import MAX_SMOOTH, TranslateOptions
from infra.settings import Settings

from .common import add_network_arguments
from .inputs import DEFAULT_OUT, CheckedInputs, check_inputs, collect_inputs
from .status import working


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


def translate_command(args: argparse.Namespace, settings: Settings) -> int:
    """Translate every input; bad ones are reported on one line each, the rest still run."""
    try:
        options = TranslateOptions(k=args.k, panels=args.panels, size=args.size)
        check_runtime(settings.runtime)
        if args.model:
            parse_model_ref(args.model)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    inputs = check_inputs(list(collect_inputs(args.inputs)), image_limits(settings))
    if not inputs.images and not inputs.clips:
        return report(inputs, [], args.output)
    with working(f"loading {args.model or 'the default model'}"):
        from .translate_run import TranslateRun  # torch and the engine: only now

        try:
            run = TranslateRun.start(args, settings, options, inputs)
        except (EngineError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    run.translate_all()
    return report(inputs, run.written, args.output, run.panels)


def report(
    inputs: CheckedInputs,
    written: list[Path],
    output: Path | None,
    panels: dict[Path, tuple[int, int]] | None = None,
) -> int:
    """Each failure on a line of its own (stderr), then what was done and where; the exit
    code (1 when any input failed or none was given)."""
    for path, reason in inputs.failures:
        print(f"{path}: {reason}", file=sys.stderr)
    failed = f"; {len(inputs.failures)} failed" if inputs.failures else ""
    print(f"translated {len(written)} of {inputs.total}{failed}")
    if len(written) == 1:
        size = (panels or {}).get(written[0])
        print(f"wrote {written[0]}" + (" ({}×{} panels)".format(*size) if size else ""))
    elif written:
        print(f"wrote {len(written)} files in {output or DEFAULT_OUT}{os.sep}")
    return 1 if inputs.failures or not inputs.total else 0
