"""Images/s: a naive pix2pix pipeline against the engine, same model, same inputs.

Both run the bundled `nature` generator (or `--model`).
(a) naive, as the seed's author would write it: per image, scikit-image Lab and
    scikit-learn KMeans(k) on all pixels, palette painting in numpy, one eager fp32
    generator call, Pillow composition.
(b) the engine's ImageTranslator: subsampled k-means in torch, the runtime `auto` picks
    (OpenVINO on a CPU), at the batch size measured fastest per image.
(c) the engine's whole path for one photo, as the bot's request takes it
    (`Engine.translate_bytes`: decode a 1024x768 JPEG, segment, translate, paint the detail,
    compose with the original, encode the PNG within Discord's 10 MiB): milliseconds per
    photo for a 256 px answer and for a 1024 px one (the model's detail network; a model
    without one answers at 256 px), for each bundled model (or `--whole-path`).

Run from the repository root:
    .venv/bin/python -m bench.images [--images 64] [--repeats 3] [--model nature]
        [--whole-path nature nature-edges]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from skimage.color import rgb2lab
from sklearn.cluster import KMeans

from bench.common import describe_machine, interleaved_medians, photo_like
from engine.core import Engine
from engine.device import resolve_device
from engine.imaging import encode_image, fit_long_side, side_by_side
from engine.imaging.tensors import to_tensor
from engine.models import Model, ModelRegistry, load_model, parse_model_ref
from engine.nets import UnetGenerator
from engine.pipeline import ImageTranslator, TranslateOptions
from engine.segment import ClustersConfig
from engine.segment.clusters import palette

SIZE = 256
K = 7  # the bundled clusters model's k; checked against the model at start
LARGE = 1024
WHOLE_PATH_PHOTOS = 4
BUDGET_BYTES = 10 * 1024 * 1024  # Discord's default upload limit, as the bot asks


def clusters_model(ref: str, device: torch.device) -> Model:
    """An installed SIZE px clusters model with k=K (the naive pipeline paints K colours)."""
    model = load_model(ModelRegistry(None).get(*parse_model_ref(ref)).path, device)
    segmenter = model.spec.segmenter
    if not isinstance(segmenter, ClustersConfig) or segmenter.k != K or model.spec.size != SIZE:
        raise SystemExit(f"error: {model.spec.label} is not a {SIZE} px clusters model, k={K}")
    return model


def naive_kmeans(image: Image.Image) -> tuple[np.ndarray, np.ndarray, float]:
    """Lab pixels (N, 3), their labels ordered by lightness, and the inertia."""
    lab = rgb2lab(np.asarray(image)).reshape(-1, 3)
    kmeans = KMeans(K, random_state=0).fit(lab)
    rank = np.argsort(np.argsort(kmeans.cluster_centers_[:, 0]))
    return lab, rank[kmeans.labels_], float(kmeans.inertia_)


def naive_one(image: Image.Image, generator: UnetGenerator, colours: np.ndarray) -> Image.Image:
    small = fit_long_side(image, SIZE)
    _, labels, _ = naive_kmeans(small)
    painted = colours[labels].reshape(small.height, small.width, 3)
    canvas = np.zeros((SIZE, SIZE, 3), np.float32)  # the U-Net wants 256 x 256
    canvas[: small.height, : small.width] = painted
    x = torch.from_numpy(canvas).permute(2, 0, 1).unsqueeze(0) * 2 - 1
    with torch.no_grad():
        y = generator(x.to(next(generator.parameters()).device))[0].cpu()
    out = ((y.permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)
    interpretation = Image.fromarray(out[: small.height, : small.width])
    return side_by_side([small, interpretation])


def inertia_ratio(images: list[Image.Image], translator: ImageTranslator) -> float:
    """Engine inertia / scikit-learn inertia, summed over images, on the same Lab pixels."""
    ours_total = theirs_total = 0.0
    segmenter = translator.segmenter_for(TranslateOptions())
    for image in images:
        small = fit_long_side(image, SIZE)
        lab, _, theirs = naive_kmeans(small)
        state = segmenter.segment(to_tensor(small).unsqueeze(0)).state
        assert state is not None
        centroids = state[0].cpu().double().numpy()
        distances = ((lab[:, None, :] - centroids[None]) ** 2).sum(-1).min(1)
        ours_total += float(distances.sum())
        theirs_total += theirs
    return ours_total / theirs_total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--model", default="nature", help="a clusters model (name[@version])")
    parser.add_argument(
        "--whole-path",
        nargs="+",
        default=["nature", "nature-edges"],
        help="models whose whole path (c) is timed (any segmenter)",
    )
    args = parser.parse_args()

    device = resolve_device(args.device)
    model = clusters_model(args.model, device)
    images = [photo_like(640, 480, seed) for seed in range(args.images)]
    translator = ImageTranslator(model)
    colours = palette(K).numpy()
    print(describe_machine())
    print(
        f"{args.images} images 640x480 -> {model.spec.label} at {SIZE} px "
        f"(ngf={model.spec.generator.ngf}), median of {args.repeats}"
    )

    def naive() -> None:
        for image in images:
            naive_one(image, model.generator, colours)

    def engine() -> None:
        for result in translator.translate(images):
            result.compose(2)

    medians = interleaved_medians({"naive": naive, "engine": engine}, args.repeats)
    naive_rate, engine_rate = (args.images / medians[name] for name in ("naive", "engine"))
    print(f"(a) naive:  {naive_rate:7.2f} images/s")
    print(f"(b) engine: {engine_rate:7.2f} images/s ({translator.runtime.describe()}, {device})")
    print(f"ratio (b)/(a): {engine_rate / naive_rate:.2f}x")
    checked = images[:16]
    ratio = inertia_ratio(checked, translator)
    print(f"k-means inertia (b)/(a) on {len(checked)} images: {ratio:.4f}")
    if ratio > 1.02:
        print("FAIL: engine k-means inertia is more than 2% above scikit-learn's")
        return 1
    for ref in args.whole_path:
        print_whole_path(ref, device, args.repeats)
    return 0


def print_whole_path(ref: str, device: torch.device, repeats: int) -> None:
    """(c): milliseconds per photo, request to encoded answer, at 256 px and at 1024 px."""
    photos = [
        encode_image(photo_like(1024, 768, seed), "jpeg") for seed in range(WHOLE_PATH_PHOTOS)
    ]
    engines = {side: Engine(ModelRegistry(None), device, largest=side) for side in (SIZE, LARGE)}

    def answers(side: int) -> None:
        for data in photos:
            engines[side].translate_bytes(data, ref, budget_bytes=BUDGET_BYTES)

    runs: dict[str, Callable[[], object]] = {
        "small": lambda: answers(SIZE),
        "large": lambda: answers(LARGE),
    }
    medians = interleaved_medians(runs, repeats)
    small, large = (1000 * medians[run] / len(photos) for run in ("small", "large"))
    answer = engines[LARGE].translator(ref)
    painted = "its detail network" if answer.model.enhancer else "no detail network: 256 px"
    print(f"(c) whole path, 1024x768 JPEG in, PNG out, {answer.describe()}:")
    print(f"    256 px answer: {small:6.0f} ms per photo")
    print(f"    1024 px answer: {large:6.0f} ms per photo ({painted}); ratio {large / small:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
