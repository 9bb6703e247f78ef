"""The image path: aspect ratio, padding, batching, composition, options, the Engine."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from engine.core import Engine
from engine.errors import InputError
from engine.imaging import decode_image, encode_image
from engine.imaging.tensors import to_image, to_tensor
from engine.models import ModelRegistry, load_model
from engine.pipeline import ImageTranslator, TranslateOptions
from engine.pipeline.batching import crop_batch, pad_batch, same_shape_batches
from engine.segment import EdgesConfig

CPU = torch.device("cpu")


@pytest.fixture
def translator(make_model) -> ImageTranslator:
    return ImageTranslator(load_model(make_model(), CPU), runtime="eager-fp32", batch_size=4)


def test_pad_and_crop_are_inverse() -> None:
    images = [torch.rand(3, 10, 30), torch.rand(3, 64, 20)]
    batch, mask = pad_batch(images, 32)
    assert batch.shape == (2, 3, 64, 32)
    assert mask.sum((1, 2, 3)).tolist() == [300, 1280]
    for original, cropped in zip(images, crop_batch(batch, [(10, 30), (64, 20)]), strict=True):
        assert torch.equal(original, cropped)


def test_batches_hold_one_padded_shape_and_at_most_batch_size_images() -> None:
    sizes = [(60, 40), (40, 60), (64, 33), (10, 10), (50, 64), (61, 62)]
    # padded to multiples of 32: 64x64, 64x64, 64x64, 32x32, 64x64, 64x64
    assert same_shape_batches(sizes, 32, 2) == [[0, 1], [2, 4], [5], [3]]
    assert same_shape_batches([(10, 10)] * 3, 32, 8) == [[0, 1, 2]]
    assert same_shape_batches([(10, 40), (40, 10)], 32, 8) == [[0], [1]]


@pytest.mark.parametrize(("width", "height"), [(300, 100), (90, 200), (10, 7), (64, 64)])
def test_aspect_ratio_is_kept(translator: ImageTranslator, photo, width: int, height: int) -> None:
    (result,) = translator.translate([photo(width, height)])
    expected = (
        (64, round(64 * height / width)) if width >= height else (round(64 * width / height), 64)
    )
    for panel in (result.original, result.segmentation, result.interpretation):
        assert panel.size == expected
    assert result.compose(2).size == (2 * expected[0] + 4, expected[1])
    assert result.compose(3).size == (3 * expected[0] + 8, expected[1])


def test_batched_results_equal_one_at_a_time(translator: ImageTranslator, photo) -> None:
    # Landscape, portrait and square: an image's batch mates of other shapes must not pad it,
    # or the generator's instance norms (whose statistics cover the padding) would see it
    # differently than alone.
    shapes = [(120, 80), (80, 120), (120, 80), (90, 90), (200, 60), (120, 80)]
    images = [photo(w, h, seed=i) for i, (w, h) in enumerate(shapes)]
    options = TranslateOptions(size=160)  # long side 160: pads to 192 x 128, 128 x 192, ...
    batched = translator.translate(images, options)
    for image, result in zip(images, batched, strict=True):
        (alone,) = translator.translate([image], options)
        assert alone.segmentation.tobytes() == result.segmentation.tobytes()
        difference = torch.tensor(
            list(alone.interpretation.tobytes()), dtype=torch.int16
        ) - torch.tensor(list(result.interpretation.tobytes()), dtype=torch.int16)
        assert difference.abs().max() <= 1


def test_states_warm_start_each_image_from_its_own_stream(
    translator: ImageTranslator, photo
) -> None:
    first = translator.translate([photo(64, 64, seed=1), photo(64, 64, seed=2)])
    states = [result.state for result in first]
    assert all(state is not None and state.shape == (1, 7, 3) for state in states)
    after = [photo(64, 64, seed=3), photo(64, 64, seed=4)]
    batched = translator.translate(after, states=states)  # two streams in one batch
    segmenter = translator.segmenter_for(TranslateOptions())
    for image, state, result in zip(after, states, batched, strict=True):
        direct = segmenter.segment(to_tensor(image).unsqueeze(0), None, state)
        assert to_image(direct.images[0]).tobytes() == result.segmentation.tobytes()
        assert result.state is not None and torch.allclose(result.state, direct.state)
    fresh = translator.translate(after)
    assert any(
        not torch.equal(warm.state, cold.state) for warm, cold in zip(batched, fresh, strict=True)
    )  # the states were used
    with pytest.raises(ValueError, match="states has 1 entries for 2 images"):
        translator.translate(after, states=states[:1])


def test_same_input_same_output(translator: ImageTranslator, photo) -> None:
    first = translator.translate([photo()])[0].interpretation.tobytes()
    assert translator.translate([photo()])[0].interpretation.tobytes() == first


def test_k_option_changes_the_segmentation(translator: ImageTranslator, photo) -> None:
    (three,) = translator.translate([photo()], TranslateOptions(k=3))
    (seven,) = translator.translate([photo()])
    assert len(three.segmentation.getcolors()) == 3
    assert len(seven.segmentation.getcolors()) == 7


def test_size_option_and_validation(translator: ImageTranslator, photo) -> None:
    (result,) = translator.translate([photo(200, 100)], TranslateOptions(size=128))
    assert result.original.size == (128, 64)
    with pytest.raises(ValueError, match="size must be between"):
        TranslateOptions(size=10)
    with pytest.raises(ValueError, match="panels"):
        TranslateOptions(panels=4)  # type: ignore[arg-type]


def test_k_is_refused_for_an_edges_model(make_model) -> None:
    model = load_model(make_model("lines", EdgesConfig()), CPU)
    translator = ImageTranslator(model, runtime="eager-fp32")
    with pytest.raises(ValueError, match="k applies only to clusters models"):
        translator.segmenter_for(TranslateOptions(k=4))


def test_engine_translates_bytes_and_rejects_bad_ones(
    make_model,
    photo,
    bad_inputs: dict[str, tuple[bytes, str]],
    tmp_path: Path,
) -> None:
    make_model("tiny", directory=tmp_path / "models")
    engine = Engine(ModelRegistry(tmp_path / "models", bundled_dir=tmp_path / "none"), CPU)
    out = decode_image(
        engine.translate_bytes(
            encode_image(photo(100, 50)), options=TranslateOptions(panels=3)
        ).data
    )
    assert out.size == (3 * 64 + 8, 32)
    assert engine.translator("tiny") is engine.translator("tiny@1")  # loaded once
    for content, message in bad_inputs.values():
        with pytest.raises(InputError, match=message):
            engine.translate_bytes(content)


def test_bf16_on_cpu_stays_close_to_fp32(make_model, photo) -> None:
    model = load_model(make_model(), CPU)
    fp32 = ImageTranslator(model, runtime="eager-fp32").translate([photo()])[0].interpretation
    bf16 = ImageTranslator(model, runtime="eager-bf16").translate([photo()])[0].interpretation
    a = torch.tensor(list(fp32.tobytes()), dtype=torch.float32)
    b = torch.tensor(list(bf16.tobytes()), dtype=torch.float32)
    assert (a - b).abs().mean() < 3


def test_translation_images_are_rgb(translator: ImageTranslator, photo) -> None:
    (result,) = translator.translate([photo()])
    assert all(
        isinstance(p, Image.Image) and p.mode == "RGB"
        for p in (result.original, result.interpretation)
    )
