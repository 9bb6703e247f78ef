"""How good an interpretation looks, per model, on photos that no model trains on.

For each model it translates a fixed set of photos (scikit-image's and scikit-learn's
everyday samples, and the held-out split of `data/beautiful` as the bundled models' training
run splits it) and prints the medians of the grid index, the colour-distance ratio, the
sharpness, the colourfulness, the chroma grain and the perceived colourfulness (definitions in
`engine.training.quality`), and the held-out L1, PSNR and SSIM; the same figures for the photos
themselves head the table. It writes a contact sheet: one row per photo, original then each
model's interpretation, and a second sheet of 3x zoom crops of their centres.
`--by-set` also prints each model's chroma grain and perceived colourfulness on training
photos, held-out photos and everyday photos, beside the photos' own: how far from its own data
a generator paints.

`--sizes 768 1024` also answers every photo at those long sides (a photo smaller than that
enlarged first, Lanczos, as a phone photo would come), the way the engine answers a photo:
with the model's detail network where it has one, else the generator at that size (issue
36). Per model and size it prints medians of: detail (RMS of the luminance's Laplacian at the
answer's size) over the training photos' own at that size; chroma grain at the answer's own
size; the grid index; "same", the median absolute difference (0..255) between the answer
box-downsampled to the 256 px answer's size and the 256 px answer; the colour ratio and the
perceived colourfulness. `(the photos)` and `(enlarged ...)` (the first model's 256 px answer
enlarged, Lanczos) head each size. It writes a sheet of the centres at 100%, a row per photo:
the photo, that enlarged answer, then each model's answer.

Run from the repository root:
    .venv/bin/python -m bench.quality nature nature-edges [path/to/model.pt ...] \
        [--sheet out/quality.png] [--by-set] [--sizes 768 1024]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data as skimage_samples
from sklearn.datasets import images as sklearn_samples

from bench.common import describe_machine
from engine.datasets import add_sources, image_paths
from engine.device import resolve_device
from engine.imaging import fit_long_side, grid, read_image
from engine.imaging.tensors import to_tensor
from engine.models import Model, ModelRegistry, load_model, parse_model_ref
from engine.pipeline import ImageTranslator, TranslateOptions, Translation
from engine.training.data import split_holdout
from engine.training.metrics import evaluate
from engine.training.quality import (
    InterpretationFigures,
    PhotoReference,
    chroma_grain,
    detail,
    grid_index,
    interpretation_figures,
    perceived_colourfulness,
)

REPO = Path(__file__).resolve().parent.parent
DATASET = REPO / "data" / "beautiful"
SIZE = 256
EVERYDAY = {  # sample photos that ship inside two of the dependencies
    skimage_samples: (
        "astronaut.png",
        "chelsea.png",
        "coffee.png",
        "rocket.jpg",
        "motorcycle_left.png",
    ),
    sklearn_samples: ("china.jpg", "flower.jpg"),
}
HOLDOUT_FRACTION, HOLDOUT_SEED = 0.1, 0  # TrainConfig's val_fraction and seed
TRAINING_SAMPLE = 20  # training photos that --by-set translates
ZOOM, CROP = 3, 64  # the zoom sheet: the centre CROP x CROP pixels, enlarged ZOOM times


@dataclass(frozen=True)
class EvalSet:
    """Photos to interpret, and what the training photos look like."""

    everyday: list[tuple[str, Image.Image]]
    held_out: list[tuple[str, Image.Image]]
    reference: PhotoReference

    @property
    def photos(self) -> list[tuple[str, Image.Image]]:
        return self.everyday + self.held_out


def everyday_photos(side: int | None = SIZE) -> list[tuple[str, Image.Image]]:
    """Everyday colour photos that ship inside scikit-image and scikit-learn, fitted to `side`
    (None: at their own size)."""
    photos = [
        (name.split(".")[0], read_image(Path(package.__file__).parent / name))
        for package, names in EVERYDAY.items()
        for name in names
    ]
    return [(name, fit_long_side(p, side) if side else p) for name, p in photos]


def dataset_split(dataset: Path = DATASET) -> tuple[list[Image.Image], list[Image.Image]]:
    """(train, held-out) photos of `dataset`, stored as `beautynet dataset add` stores them
    and split as training splits them."""
    with tempfile.TemporaryDirectory() as tmp:
        add_sources(Path(tmp), "eval", [dataset])
        train, held = split_holdout(image_paths(Path(tmp), "eval"), HOLDOUT_FRACTION, HOLDOUT_SEED)
        return [read_image(p) for p in train], [read_image(p) for p in held]


def load_eval_set(split: tuple[list[Image.Image], list[Image.Image]] | None = None) -> EvalSet:
    """The everyday photos and the held-out split, and the train split as the reference."""
    train, held = split or dataset_split()
    held_out = [(f"held-out {i + 1}", fit_long_side(p, SIZE)) for i, p in enumerate(held)]
    reference = PhotoReference.of(fit_long_side(p, SIZE) for p in train)
    return EvalSet(everyday_photos(), held_out, reference)


@dataclass
class QualityReport:
    """One model's figures on an EvalSet: medians over its photos, held-out means."""

    label: str
    figures: InterpretationFigures
    held_out: dict[str, float]
    translations: list[Translation] = field(repr=False)

    def row(self) -> str:
        """The figures, in the columns of HEADER."""
        h = self.held_out
        return f"{figure_cells(self.figures)} {h['l1']:7.3f} {h['psnr']:7.2f} {h['ssim']:6.3f}"


HEADER = (  # medians but for L1, PSNR, SSIM: held-out means
    f"{'grid':>6} {'colour':>7} {'sharp':>7} {'vivid':>6} {'grain':>6} {'pcol':>6} "
    f"{'L1':>7} {'PSNR':>7} {'SSIM':>6}"
)


def figure_cells(f: InterpretationFigures) -> str:
    """The figures that need no ground truth, in the first columns of HEADER."""
    return (
        f"{f.grid_index:6.2f} {f.colour_ratio:7.2f} {f.sharpness:7.2f} {f.colourfulness:6.2f} "
        f"{f.chroma_grain:6.1f} {f.perceived_colourfulness:6.1f}"
    )


def median_figures(figures: Sequence[InterpretationFigures]) -> InterpretationFigures:
    """Each figure's median over `figures`."""
    names = InterpretationFigures.__dataclass_fields__
    return InterpretationFigures(
        **{name: statistics.median(getattr(f, name) for f in figures) for name in names}
    )


def _as_batch(images: Sequence[Image.Image]) -> torch.Tensor:
    return torch.stack([to_tensor(image) for image in images])


def measure(model: Model, eval_set: EvalSet, label: str | None = None) -> QualityReport:
    """Translate every photo of `eval_set` and compute the figures."""
    translations = ImageTranslator(model).translate([image for _, image in eval_set.photos])
    figures = [
        interpretation_figures(eval_set.reference, t.original, t.interpretation)
        for t in translations
    ]
    held = translations[len(eval_set.everyday) :]
    held_out = {
        key: float(
            np.mean(
                [
                    evaluate(_as_batch([t.interpretation]), _as_batch([t.original]))[key]
                    for t in held
                ]
            )
        )
        for key in ("l1", "psnr", "ssim")
    }
    return QualityReport(label or model.spec.label, median_figures(figures), held_out, translations)


def photos_row(eval_set: EvalSet) -> str:
    """The photos' own figures, in the columns of HEADER (each photo is its own
    interpretation; it has no held-out error)."""
    figures = [
        interpretation_figures(eval_set.reference, photo, photo) for _, photo in eval_set.photos
    ]
    return figure_cells(median_figures(figures))


BY_SET_FIGURES = {"grain": chroma_grain, "pcol": perceived_colourfulness}


def figures_by_set(
    model: Model, report: QualityReport, eval_set: EvalSet, training: Sequence[Image.Image]
) -> dict[str, dict[str, tuple[float, float]]]:
    """Per photo set, per figure of BY_SET_FIGURES: its median over the interpretations and
    over the photos they were made from.

    The held-out and everyday interpretations are the report's own; only the training photos
    are translated here.
    """
    everyday = len(eval_set.everyday)
    sets = {
        "training": ImageTranslator(model).translate(training),
        "held-out": report.translations[everyday:],
        "everyday": report.translations[:everyday],
    }

    def median_of(figure: Callable[[Image.Image], float], images: Iterable[Image.Image]) -> float:
        return statistics.median(figure(image) for image in images)

    return {
        name: {
            label: (
                median_of(figure, (t.interpretation for t in translations)),
                median_of(figure, (t.original for t in translations)),
            )
            for label, figure in BY_SET_FIGURES.items()
        }
        for name, translations in sets.items()
    }


def zoomed(image: Image.Image) -> Image.Image:
    """The centre CROP x CROP pixels, enlarged ZOOM times without smoothing."""
    left, top = (image.width - CROP) // 2, (image.height - CROP) // 2
    crop = image.crop((left, top, left + CROP, top + CROP))
    return crop.resize((CROP * ZOOM, CROP * ZOOM), Image.Resampling.NEAREST)


def contact_sheet(
    eval_set: EvalSet, reports: Sequence[QualityReport], zoom: bool = False
) -> Image.Image:
    """One row per photo: the original, then each model's interpretation (their centres at
    3x zoom with `zoom`)."""
    view = zoomed if zoom else (lambda image: image)
    rows = [
        [view(original), *(view(r.translations[i].interpretation) for r in reports)]
        for i, (_, original) in enumerate(eval_set.photos)
    ]
    labels = [
        f"{name}: original | " + " | ".join(r.label for r in reports) for name, _ in eval_set.photos
    ]
    return grid(rows, labels)


LARGE_HEADER = (
    f"{'n':>3} {'detail':>7} {'grain':>6} {'grid':>6} {'same':>6} {'colour':>7} {'pcol':>6}"
)
LARGE_CROP = 256  # the large sheet: each answer's centre, at 100%


@dataclass(frozen=True)
class LargeFigures:
    """Medians of the figures of answers at one long side (see the module doc)."""

    count: int
    detail: float
    grain: float
    grid: float
    same: float
    colour: float
    pcol: float

    def row(self) -> str:
        return (
            f"{self.count:3d} {self.detail:6.2f}x {self.grain:6.1f} {self.grid:6.2f} "
            f"{self.same:6.1f} {self.colour:7.2f} {self.pcol:6.1f}"
        )


def at_side(image: Image.Image, side: int) -> Image.Image:
    """The photo with its long side at `side`: reduced, or enlarged as a larger photo would."""
    scale = side / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.LANCZOS)


def same_picture(large: Image.Image, small: Image.Image) -> float:
    """Median absolute difference (0..255) between `large` box-downsampled to `small`'s size
    and `small`: whether detail was added to the picture, or another picture painted."""
    down = np.asarray(large.convert("RGB").resize(small.size, Image.Resampling.BOX), dtype=float)
    return float(np.median(np.abs(down - np.asarray(small.convert("RGB"), dtype=float))))


def large_figures(
    eval_set: EvalSet,
    answers: Sequence[Image.Image],
    small: Sequence[Image.Image],
    photos_detail: float,
) -> LargeFigures:
    """The figures of `answers` (one per photo of eval_set, at one side), beside `small`,
    the 256 px answers; detail over `photos_detail`, the training photos' own."""
    originals = [photo for _, photo in eval_set.photos]
    per_photo = [
        (
            detail(answer) / photos_detail,
            chroma_grain(answer, own_size=True),
            grid_index(answer),
            same_picture(answer, low),
            eval_set.reference.colour_ratio(answer, original),
            perceived_colourfulness(answer),
        )
        for answer, low, original in zip(answers, small, originals, strict=True)
    ]
    medians = [statistics.median(column) for column in zip(*per_photo, strict=True)]
    return LargeFigures(len(answers), *medians)


def answers_at(model: Model, images: Sequence[Image.Image], side: int) -> list[Translation]:
    """The engine's answers at `side`: through the detail network when the model has one."""
    translator = ImageTranslator(model)
    options = TranslateOptions(size=side)
    small = translator.translate(images, options)
    return [
        translator.detailed(image, answer, options, side)
        for image, answer in zip(images, small, strict=True)
    ]


def print_large(
    eval_set: EvalSet,
    reports: Sequence[QualityReport],
    models: Sequence[Model],
    beautiful: Sequence[Image.Image],
    sides: Sequence[int],
    sheet: Path,
) -> None:
    """The figures of every model's answers at each of `sides`, and a sheet of their centres;
    detail is read against `beautiful`, the training photos as they were taken (the dataset
    stores them smaller), those at least as large as each side."""
    small = {r.label: [t.interpretation for t in r.translations] for r in reports}
    for side in sides:
        photos = [at_side(photo, side) for _, photo in eval_set.photos]
        reference = statistics.median(
            detail(at_side(p, side)) for p in beautiful if max(p.size) >= side
        )
        print(f"\nat {side} px ({len(photos)} photos; detail over the training photos' own)")
        print(f"{'model':<22} {LARGE_HEADER}")
        print(f"{'(the photos)':<22} {large_figures(eval_set, photos, photos, reference).row()}")
        first = reports[0]
        enlarged = [at_side(image, side) for image in small[first.label]]
        row = large_figures(eval_set, enlarged, small[first.label], reference).row()
        print(f"{'(enlarged ' + first.label + ')':<22} {row}")
        rows = [[centre(photo) for photo in photos], [centre(image) for image in enlarged]]
        for model, report in zip(models, reports, strict=True):
            answers = [t.interpretation for t in answers_at(model, photos, side)]
            figures = large_figures(eval_set, answers, small[report.label], reference)
            print(f"{report.label:<22} {figures.row()}")
            rows.append([centre(answer) for answer in answers])
        path = sheet.with_name(f"{sheet.stem}-{side}{sheet.suffix}")
        grid([list(column) for column in zip(*rows, strict=True)]).save(path)
        print(f"centres at 100%: {path}")


def centre(image: Image.Image) -> Image.Image:
    """The centre LARGE_CROP x LARGE_CROP pixels, at 100%."""
    left, top = (image.width - LARGE_CROP) // 2, (image.height - LARGE_CROP) // 2
    return image.crop((left, top, left + LARGE_CROP, top + LARGE_CROP))


def load(ref: str, device: torch.device) -> Model:
    """A model file's path, or a bundled model's name[@version]."""
    path = Path(ref)
    if path.suffix == ".pt" and path.is_file():
        return load_model(path, device)
    return load_model(ModelRegistry(None).get(*parse_model_ref(ref)).path, device)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="bundled model name[@version] or a .pt file")
    parser.add_argument("--sheet", type=Path, default=Path("out/quality.png"))
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--by-set", action="store_true", help="also print the vividness per photo set"
    )
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[], help="also answer at these long sides"
    )
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(describe_machine())
    split = dataset_split()
    eval_set = load_eval_set(split)
    everyday, held_out = len(eval_set.everyday), len(eval_set.held_out)
    print(f"{everyday} everyday + {held_out} held-out photos at {SIZE} px")
    print(f"{'model':<22} {HEADER}")
    print(f"{'(the photos)':<22} {photos_row(eval_set)}")
    reports, models = [], [load(ref, device) for ref in args.models]
    for model in models:
        report = measure(model, eval_set)
        reports.append(report)
        print(f"{report.label:<22} {report.row()}")
    if args.by_set:
        training = [fit_long_side(p, SIZE) for p in split[0][:TRAINING_SAMPLE]]
        print(f"\nby photo set ({len(training)} training photos): interpretation / photos, medians")
        for model, report in zip(models, reports, strict=True):
            by_set = figures_by_set(model, report, eval_set, training)
            cells = "  ".join(
                f"{name} {label} {ours:.1f} / {own:.1f}"
                for name, figures in by_set.items()
                for label, (ours, own) in figures.items()
            )
            print(f"{report.label:<22} {cells}")
    args.sheet.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(eval_set, reports).save(args.sheet)
    zoom_sheet = args.sheet.with_name(f"{args.sheet.stem}-zoom{args.sheet.suffix}")
    contact_sheet(eval_set, reports, zoom=True).save(zoom_sheet)
    print(f"contact sheets: {args.sheet}, {zoom_sheet}")
    if args.sizes:
        originals = [read_image(path) for path in sorted(DATASET.glob("*.jpg"))]
        print_large(eval_set, reports, models, originals, args.sizes, args.sheet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
