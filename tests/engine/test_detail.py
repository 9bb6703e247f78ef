"""The detail network (issue 36): answers larger than the generator's, with detail added
and the same picture kept; model files carry it; its training steps, checkpoints and resumes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter
from skimage import measure

from beautynet.components.engine import train_defaults
from engine.errors import ModelError
from engine.imaging.tensors import to_tensor
from engine.models import ModelRegistry, load_model, read_spec, save_model
from engine.nets import DetailEnhancer, EnhancerConfig, UnetGenerator
from engine.nets.enhancer import without_coarse
from engine.pipeline import ImageTranslator, TranslateOptions
from engine.segment import (
    ClustersConfig,
    ClustersSegmenter,
    EdgesConfig,
    build_segmenter,
    segment_larger,
    trace_larger,
)
from engine.segment.color import rgb_to_lab
from engine.segment.kmeans import assign
from engine.specs import ModelMeta, ModelSpec
from engine.training.config import pattern_period
from engine.training.detail import (
    DetailConfig,
    DetailTrainer,
    prepare_examples,
    run_detail_training,
    softened_to,
)
from engine.training.losses import periodic_pattern
from engine.training.quality import laplacian_spread
from infra.settings import Settings
from tests.conftest import TINY_GENERATOR, MakeModel, photo_like, random_enhancer

SMALL = EnhancerConfig(channels=8, blocks=1, max_size=512)
SHIPPED = EnhancerConfig()  # the bundled models' detail networks


def test_what_the_network_adds_carries_no_coarse_content() -> None:
    """What varies across the generator's pixels is taken out; what varies within them stays
    (`bench.quality`'s "same" figure measures what is left, on real answers)."""
    torch.manual_seed(0)
    smooth = F.interpolate(torch.randn(2, 3, 6, 8), size=(96, 128), mode="bilinear")
    assert without_coarse(smooth, (24, 32)).abs().mean() < 0.1 * smooth.abs().mean()
    rows, columns = torch.arange(96)[:, None], torch.arange(128)[None, :]
    fine = torch.randn(2, 3, 1, 1) * ((rows + columns) % 2 * 2 - 1).float()
    assert torch.allclose(without_coarse(fine, (24, 32)), fine, atol=1e-6)
    network = random_enhancer(SMALL)
    assert network is not None
    picture = torch.rand(2, 3, 24, 32) * 2 - 1
    with torch.no_grad():
        result = network(picture, torch.rand(2, 3, 96, 128) * 2 - 1)
    enlarged = F.interpolate(picture, size=(96, 128), mode="bilinear")
    assert (result - enlarged).abs().mean() > 0.01  # a network with weights adds detail


def test_an_untrained_network_adds_nothing() -> None:
    picture = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        result = DetailEnhancer(SMALL)(picture, torch.zeros(1, 3, 48, 48))
    assert torch.allclose(result, F.interpolate(picture, size=(48, 48), mode="bilinear"))


def test_a_model_file_carries_its_detail_network(tmp_path: Path, make_model: MakeModel) -> None:
    path = make_model(enhancer=SMALL)
    assert read_spec(path).enhancer == SMALL  # listed without torch
    model = load_model(path, torch.device("cpu"))
    assert model.enhancer is not None and model.enhancer.cfg == SMALL
    assert not any(p.requires_grad for p in model.enhancer.parameters())
    plain = load_model(make_model("plain"), torch.device("cpu"))
    assert plain.enhancer is None and plain.spec.enhancer is None
    spec = ModelSpec(ModelMeta("odd"), TINY_GENERATOR, ClustersConfig(), enhancer=SMALL)
    with pytest.raises(ValueError, match="detail network"):
        save_model(tmp_path / "odd-v1.pt", spec, UnetGenerator(TINY_GENERATOR))


def test_a_file_whose_detail_weights_do_not_fit_is_refused(tmp_path: Path) -> None:
    spec = ModelSpec(ModelMeta("odd"), TINY_GENERATOR, ClustersConfig(), enhancer=SMALL)
    wider = DetailEnhancer(EnhancerConfig(channels=12, blocks=1))
    path = tmp_path / "odd-v1.pt"
    save_model(path, spec, UnetGenerator(TINY_GENERATOR), wider)
    with pytest.raises(ModelError, match="does not match its config"):
        load_model(path, torch.device("cpu"))


@pytest.fixture
def detailed(make_model: MakeModel) -> ImageTranslator:
    """A clusters model of size 64 whose detail network paints up to 512 px."""
    model = load_model(make_model(enhancer=SMALL), torch.device("cpu"))
    return ImageTranslator(model, "eager-fp32", batch_size=1, streams=1)


def answer(translator: ImageTranslator, image: Image.Image, largest: int, **options: object):
    chosen = TranslateOptions(**options)  # type: ignore[arg-type]
    (small,) = translator.translate([image], chosen)
    return small, translator.detailed(image, small, chosen, largest)


@pytest.mark.parametrize(
    ("photo_size", "largest", "size", "expected"),
    [
        ((300, 200), 1024, None, (300, 200)),  # the photo's own size
        ((600, 400), 1024, None, (512, 341)),  # as large as the network paints: 512
        ((300, 200), 160, None, (160, 106)),  # the default set lower
        ((300, 200), 1024, 128, (128, 84)),  # the size asked
        ((300, 200), 1024, 400, (300, 200)),  # never larger than the photo
        ((50, 40), 1024, None, (64, 51)),  # a small photo: the generator's own answer
    ],
)
def test_answers_come_at_the_photos_size_up_to_the_largest(
    detailed: ImageTranslator, photo_size, largest, size, expected
) -> None:
    photo = photo_like(*photo_size)
    small, result = answer(detailed, photo, largest, size=size)
    width, height = result.interpretation.size
    assert abs(width - expected[0]) <= 1 and abs(height - expected[1]) <= 1
    assert result.original.size == result.segmentation.size == result.interpretation.size
    assert max(small.interpretation.size) == min(size or 64, 64)  # the generator's own size


def test_the_large_answer_is_the_small_one_with_detail(detailed: ImageTranslator) -> None:
    small, large = answer(detailed, photo_like(256, 192), 1024)
    assert large.interpretation.size == (256, 192)
    down = large.interpretation.resize(small.interpretation.size, Image.Resampling.BOX)
    a = torch.tensor(list(down.getdata()), dtype=torch.float32)
    b = torch.tensor(list(small.interpretation.getdata()), dtype=torch.float32)
    assert (a - b).abs().median() <= 10  # the same picture (issue 36's bound)
    enlarged = small.interpretation.resize(large.interpretation.size, Image.Resampling.BILINEAR)
    c = torch.tensor(list(enlarged.getdata()), dtype=torch.float32)
    d = torch.tensor(list(large.interpretation.getdata()), dtype=torch.float32)
    assert (c - d).abs().mean() > 1  # with detail that enlarging has not


def test_k_and_edges_models_are_painted_larger_too(make_model: MakeModel) -> None:
    for segmenter, options in ((ClustersConfig(), {"k": 4}), (EdgesConfig(), {})):
        path = make_model(f"m-{segmenter.kind}", segmenter, enhancer=SMALL)
        model = load_model(path, torch.device("cpu"))
        translator = ImageTranslator(model, "eager-fp32", batch_size=1, streams=1)
        _, result = answer(translator, photo_like(200, 150), 1024, **options)
        assert result.interpretation.size == (200, 150)
        colours = {c for _, c in result.segmentation.getcolors(maxcolors=1 << 16) or []}
        assert len(colours) <= (4 if segmenter.kind == "clusters" else 2)


def test_a_model_without_a_detail_network_answers_as_before(make_model: MakeModel) -> None:
    model = load_model(make_model(), torch.device("cpu"))
    translator = ImageTranslator(model, "eager-fp32", batch_size=1, streams=1)
    small, result = answer(translator, photo_like(300, 200), 1024)
    assert result is small and result.interpretation.size == (64, 43)
    _, asked = answer(translator, photo_like(300, 200), 1024, size=128)
    assert asked.interpretation.size == (128, 85)  # the generator itself, at the size asked


def test_larger_clusters_keep_the_regions_of_the_small_ones() -> None:
    config = ClustersConfig(k=4)
    photo = torch.rand(1, 3, 8, 8).repeat_interleave(8, 2).repeat_interleave(8, 3)  # blocks
    small = F.interpolate(photo, size=(16, 16), mode="area")
    segmented = build_segmenter(config).segment(small)
    larger = segment_larger(config, photo, segmented.state, 4.0)
    down = F.interpolate(larger, size=(16, 16), mode="nearest")
    assert (down - segmented.images).abs().amax(1).gt(0.01).float().mean() < 0.05
    with pytest.raises(ValueError, match="centroids"):
        segment_larger(config, photo, None, 4.0)


def test_larger_clusters_are_the_nearest_centroids_but_within_a_few_levels_of_a_border() -> None:
    """`paint` looks colours up at 5 bits a channel: nearly every pixel as exact k-means."""
    config = ClustersConfig(k=7)
    large = to_tensor(photo_like(400, 300, seed=3))[None]
    state = build_segmenter(config).segment(F.interpolate(large, scale_factor=0.25)).state
    assert state is not None
    painted = segment_larger(config, large, state, 4.0)
    segmenter = ClustersSegmenter(config)
    pixels = rgb_to_lab(large).flatten(2).transpose(1, 2)
    nearest = segmenter._painted(large, assign(pixels, state))  # the same centroids, exactly
    assert (painted != nearest).any(1).float().mean() < 0.03


def test_detail_training_steps_checkpoints_and_resumes(
    tmp_path: Path, make_model: MakeModel
) -> None:
    models = tmp_path / "models"
    model = load_model(make_model(directory=models), torch.device("cpu"))
    photos = [photo_like(160, 120, seed=i) for i in range(3)]
    examples = prepare_examples(model, photos, (2,))
    assert [e.photo.shape for e in examples] == [(3, 96, 128)] * 3  # 64 x 48, twice as large
    config = DetailConfig(SMALL, scales=(2,), crop=64, batch_size=2, steps=3, periodic=10)
    config = config.for_segmenter(model.spec.segmenter)
    run = tmp_path / "run"
    trainer = DetailTrainer(config, examples, examples[:1], run, torch.device("cpu"), "fp32")
    before = [p.clone() for p in trainer.enhancer.parameters()]
    trainer.run()
    assert trainer.step == 3 and trainer.checkpoint_path.is_file()
    assert any(
        not torch.equal(a, b) for a, b in zip(before, trainer.enhancer.parameters(), strict=True)
    )
    longer = replace(config, steps=5)
    again = DetailTrainer(longer, examples, [], run, torch.device("cpu"), "fp32")
    again.run(resume=True)
    assert again.step == 5  # two more, from the checkpoint


def test_scales_take_turns_and_one_named_twice_takes_two(
    tmp_path: Path, make_model: MakeModel
) -> None:
    model = load_model(make_model(directory=tmp_path / "models"), torch.device("cpu"))
    examples = prepare_examples(model, [photo_like(320, 240, seed=0)], (2, 4, 4))
    assert sorted(e.scale for e in examples) == [2, 4]  # each scale's example once
    config = DetailConfig(SMALL, scales=(4, 2, 4), crop=64, batch_size=1, steps=1)
    config = config.for_segmenter(model.spec.segmenter)
    trainer = DetailTrainer(config, examples, [], tmp_path / "run", torch.device("cpu"), "fp32")
    sides = []
    for step in range(6):
        trainer.step = step
        sides.append(trainer.batch().picture.shape[-1])
    assert sides == [32, 16, 16] * 2  # the picture's side is the crop over the scale


def test_the_sample_sheet_shows_a_held_photo_of_odd_side_as_serving_crops_it(
    tmp_path: Path, make_model: MakeModel
) -> None:
    model = load_model(make_model(directory=tmp_path / "models"), torch.device("cpu"))
    held = prepare_examples(model, [photo_like(192, 129, seed=0)], (3,), largest_only=True)
    assert held[0].photo.shape[1:] == (129, 192)  # 43 px high at 3x: odd
    config = DetailConfig(SMALL, scales=(3,), crop=48, batch_size=1, steps=1)
    config = config.for_segmenter(model.spec.segmenter)
    trainer = DetailTrainer(config, held, held, tmp_path / "run", torch.device("cpu"), "fp32")
    sheet = Image.open(trainer.sample_sheet(tmp_path / "sheet.png"))
    assert sheet.height >= 128  # a row of the photo, less its last row


def test_a_run_may_serve_the_average_of_its_networks_weights(
    tmp_path: Path, make_model: MakeModel
) -> None:
    model = load_model(make_model(directory=tmp_path / "models"), torch.device("cpu"))
    examples = prepare_examples(model, [photo_like(160, 120, seed=i) for i in range(2)], (2,))
    config = DetailConfig(SMALL, scales=(2,), crop=64, batch_size=2, steps=3, weight_average=0.9)
    config = config.for_segmenter(model.spec.segmenter)
    run = tmp_path / "run"
    trainer = DetailTrainer(config, examples, [], run, torch.device("cpu"), "fp32")
    served = trainer.run()
    assert served is not trainer.enhancer  # the average, which no step trained
    assert any(
        not torch.equal(a, b)
        for a, b in zip(served.parameters(), trainer.enhancer.parameters(), strict=True)
    )
    again = DetailTrainer(config, examples, [], run, torch.device("cpu"), "fp32")
    assert again.load_checkpoint()  # the checkpoint keeps the average
    for a, b in zip(again.served.parameters(), served.parameters(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="weight_average"):
        DetailConfig(weight_average=1.0)


def test_learning_rates_may_fall_to_zero_over_the_end_of_a_run(
    tmp_path: Path, make_model: MakeModel
) -> None:
    model = load_model(make_model(directory=tmp_path / "models"), torch.device("cpu"))
    examples = prepare_examples(model, [photo_like(160, 120, seed=0)], (2,))
    config = DetailConfig(SMALL, scales=(2,), crop=64, batch_size=1, steps=4, lr_decay_start=0.5)
    config = config.for_segmenter(model.spec.segmenter)
    trainer = DetailTrainer(config, examples, [], tmp_path / "run", torch.device("cpu"), "fp32")
    rates = []
    for _ in range(4):
        trainer.train_step()
        rates.append(trainer.opt_g.param_groups[0]["lr"] / config.lr_g)
    assert rates == pytest.approx([1.0, 1.0, 1.0, 0.5])  # steps 0 to 3 of 4: decay after 2
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(config.lr_d * 0.5)
    before = [p.clone() for p in trainer.enhancer.parameters()]
    trainer.step = 4  # the end: the rate is 0, and a step changes nothing
    trainer.train_step()
    assert all(
        torch.equal(a, b) for a, b in zip(before, trainer.enhancer.parameters(), strict=True)
    )
    assert DetailConfig().lr_decay_start == 1.0  # the bundled recipes: no decay
    with pytest.raises(ValueError, match="lr_decay_start"):
        DetailConfig(lr_decay_start=1.5)


def test_texture_short_of_the_photos_may_be_priced(tmp_path: Path, make_model: MakeModel) -> None:
    """The untrained network adds nothing to the photo's small picture, so its result has less
    fine texture than the photo: with a weight, that shortfall is a loss that moves the
    network; without, it is only shown."""
    model = load_model(make_model(directory=tmp_path / "models"), torch.device("cpu"))
    photos = [photo_like(160, 120, seed=0)]
    examples = prepare_examples(model, photos, (2,), picture_from="photo")  # enlarged: softer

    def first_step(weight: float) -> tuple[dict[str, float], list[torch.Tensor]]:
        config = DetailConfig(
            SMALL, scales=(2,), crop=64, batch_size=1, steps=1, light_grain=weight
        )
        config = config.for_segmenter(model.spec.segmenter)
        run = tmp_path / f"run-{weight:g}"
        trainer = DetailTrainer(config, examples, [], run, torch.device("cpu"), "fp32")
        losses = trainer.train_step()
        return losses, [p.detach().clone() for p in trainer.enhancer.parameters()]

    (priced, moved), (shown, kept) = first_step(100.0), first_step(0.0)
    assert priced["g_light"] == pytest.approx(shown["g_light"]) and priced["g_light"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(moved, kept, strict=True))
    saved = DetailConfig(light_grain=100.0).to_dict()
    assert DetailConfig.from_dict(saved).light_grain == 100.0
    del saved["light_grain"]
    assert DetailConfig.from_dict(saved).light_grain == 0.0  # checkpoints from before


def test_a_discriminator_may_judge_the_whole_result_beside_its_detail(
    tmp_path: Path, make_model: MakeModel
) -> None:
    model = load_model(make_model(directory=tmp_path / "models"), torch.device("cpu"))
    examples = prepare_examples(model, [photo_like(160, 120, seed=i) for i in range(2)], (2,))
    config = DetailConfig(SMALL, scales=(2,), crop=64, batch_size=2, steps=2, judged="detail+whole")
    config = config.for_segmenter(model.spec.segmenter)
    trainer = DetailTrainer(config, examples, [], tmp_path / "run", torch.device("cpu"), "fp32")
    # It sees the segmentation, the detail and the whole result.
    assert trainer.discriminator.scales[0].cfg.in_channels == 9
    trainer.run()
    assert DetailConfig.from_dict(config.to_dict()).judged == "detail+whole"
    saved = config.to_dict()
    del saved["judged"]
    assert DetailConfig.from_dict(saved).judged == "detail"  # checkpoints from before
    with pytest.raises(ValueError, match="judged must be one of"):
        DetailConfig(judged="photo")


def test_a_trained_detail_network_is_registered_with_its_generator(
    tmp_path: Path, make_model: MakeModel, caplog: pytest.LogCaptureFixture
) -> None:
    models = tmp_path / "models"
    make_model(directory=models)
    registry = ModelRegistry(models, bundled_dir=tmp_path / "none")
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"photo-{i}.png")
        photo_like(160, 120, seed=i).save(paths[-1])
    config = DetailConfig(SMALL, scales=(2, 4), crop=64, batch_size=2, steps=2)
    entry = run_detail_training(
        registry.get("tiny"), paths, config, tmp_path / "run", registry, torch.device("cpu")
    )
    # 4x a 64 px model is 256 px: more than these photos have, and said.
    assert "no photo is large enough to learn scale 4 (a long side of 256 px)" in caplog.text
    assert (entry.version, entry.spec.enhancer) == (2, SMALL)
    first, second = (load_model(registry.get("tiny", v).path, torch.device("cpu")) for v in (1, 2))
    for a, b in zip(first.generator.parameters(), second.generator.parameters(), strict=True):
        assert torch.equal(a, b)  # the same generator, now with detail
    assert entry.sample_sheet is not None


def test_the_recipe_is_made_per_segmenter_as_the_bundled_models_were_trained() -> None:
    """An edge map does not say which side of an edge is light: the edge generator's picture
    has no fixed sign against the photo, so its detail network learns from the photo's own,
    point-sampled, softened and lined as the generator's, judged whole, with the losses on a
    repeated pattern and on missing texture; clusters from the generator's, without."""
    edges, clusters = (
        DetailConfig().for_segmenter(EdgesConfig()),
        DetailConfig().for_segmenter(ClustersConfig()),
    )
    assert (edges.picture, edges.periodic, edges.light_grain) == ("lined", 50.0, 100.0)
    assert (clusters.picture, clusters.periodic, clusters.light_grain) == ("generator", 0.0, 0.0)
    assert (edges.judged, clusters.judged) == ("detail+whole", "detail")
    assert (edges.steps, clusters.steps) == (3_200, 16_160)  # as long as the bundled ones
    for recipe in (edges, clusters):  # as every bundled network learnt
        assert (recipe.scales, recipe.enhancer) == ((2, 3), SHIPPED)
    assert DetailConfig.from_dict(DetailConfig().to_dict()).enhancer is None  # as admins' runs
    chosen = DetailConfig(
        picture="photo", periodic=0.0, steps=5, scales=(2,), judged="detail"
    ).for_segmenter(EdgesConfig())
    assert (chosen.picture, chosen.periodic, chosen.steps) == ("photo", 0.0, 5)  # choices kept
    assert (chosen.scales, chosen.judged) == ((2,), "detail")
    timed = DetailConfig(time_budget_s=60).for_segmenter(EdgesConfig())
    assert (timed.steps, timed.time_budget_s) == (None, 60)
    with pytest.raises(ValueError, match="picture must be one of"):
        DetailConfig(picture="sketch")
    with pytest.raises(ValueError, match="for_segmenter"):
        DetailTrainer(DetailConfig(), [], [], Path("unused"), torch.device("cpu"))
    saved = DetailConfig(picture="photo").to_dict()
    assert DetailConfig.from_dict(saved).picture == "photo"
    del saved["picture"]  # a checkpoint from before the option learnt as "auto" does
    assert DetailConfig.from_dict(saved).picture == "auto"


def test_examples_from_the_photo_carry_the_photo_fitted_to_the_generators_size(
    tmp_path: Path, make_model: MakeModel
) -> None:
    model = load_model(make_model(directory=tmp_path / "models"), torch.device("cpu"))
    photos = [photo_like(160, 120, seed=i) for i in range(2)]
    painted = prepare_examples(model, photos, (2,))
    own = prepare_examples(model, photos, (2,), picture_from="photo")
    translator = ImageTranslator(model, "eager-fp32", batch_size=1, streams=1)
    for photo, by_generator, by_photo in zip(photos, painted, own, strict=True):
        (translation,) = translator.translate([photo])
        fitted = (to_tensor(translation.original) * 255).round().to(torch.uint8)
        assert torch.equal(by_photo.picture, fitted)
        assert not torch.equal(by_generator.picture, fitted)
        assert torch.equal(by_generator.photo, by_photo.photo)
        assert torch.equal(by_generator.segmentation, by_photo.segmentation)
    enlarged = replace(SMALL, segmentation="enlarged")
    (softened,) = prepare_examples(model, photos[:1], (2,), enlarged, picture_from="softened")
    (translation,) = translator.translate(photos[:1])
    expected = softened_to(translation.original, translation.interpretation)
    assert torch.equal(softened.picture, (to_tensor(expected) * 255).round().to(torch.uint8))
    drawn = to_tensor(translation.segmentation)[None]
    assert torch.equal(
        softened.segmentation,
        (F.interpolate(drawn, scale_factor=2, mode="bilinear")[0] * 255).round().to(torch.uint8),
    )


def _half_level_crossing(row: torch.Tensor) -> float:
    """Where a rising step in `row` crosses halfway, in pixels (pixel i spans [i, i + 1))."""
    middle = (row.min() + row.max()) / 2
    after = int(torch.nonzero(row > middle)[0])
    below, above = float(row[after - 1]), float(row[after])
    return after - 0.5 + (float(middle) - below) / (above - below)


def test_a_sampled_picture_has_its_edges_on_the_generators_pixel_grid(
    tmp_path: Path, make_model: MakeModel
) -> None:
    """The generator draws its lines on the pixels of its edge map, so they lie up to half a
    pixel from the photo's edge; the "sampled" picture's edges do too, the fitted photo's not."""
    model = load_model(make_model(directory=tmp_path / "models"), torch.device("cpu"))
    step = Image.new("RGB", (256, 192), (40, 40, 40))
    step.paste((220, 220, 220), (101, 0, 256, 192))  # at 25.25 of the generator's 64 px
    (fitted,) = prepare_examples(model, [step], (2,), picture_from="photo")
    (sampled,) = prepare_examples(model, [step], (2,), picture_from="sampled")
    fitted_at = _half_level_crossing(fitted.picture[0, 24].float())
    sampled_at = _half_level_crossing(sampled.picture[0, 24].float())
    assert fitted_at == pytest.approx(25.25, abs=0.1)
    assert sampled_at == pytest.approx(25.0, abs=0.01)  # the border of two pixels
    assert torch.equal(sampled.photo, fitted.photo)  # what it learns to paint is the same


def test_a_lined_picture_carries_the_generators_lines_beside_its_edges_only(
    tmp_path: Path, make_model: MakeModel
) -> None:
    path = make_model(directory=tmp_path / "models", segmenter=EdgesConfig())
    model = load_model(path, torch.device("cpu"))
    photos = [photo_like(256, 192, seed=3)]
    (sampled,) = prepare_examples(model, photos, (2,), picture_from="sampled")
    (lined,) = prepare_examples(model, photos, (2,), picture_from="lined")
    translator = ImageTranslator(model, "eager-fp32", batch_size=1, streams=1)
    (translation,) = translator.translate(photos)
    edges = to_tensor(translation.segmentation).mean(0) > 0.5
    near = F.max_pool2d(edges[None, None].float(), 3, stride=1, padding=1)[0, 0] > 0
    changed = (lined.picture != sampled.picture).any(0)
    assert int(edges.sum()) > 0 and bool(changed[near].any())
    assert not bool(changed[~near].any())  # away from the lines: the sampled photo
    with pytest.raises(ValueError, match="lines are drawn along edges"):
        DetailConfig(picture="lined").for_segmenter(ClustersConfig())


def test_a_pattern_repeated_on_the_grid_is_found_and_a_texture_averages_out() -> None:
    torch.manual_seed(0)
    tile = torch.randn(1, 3, 4, 4)
    repeated = tile.repeat(1, 1, 36, 36)  # 144 x 144, the same 4 x 4 everywhere
    found = periodic_pattern(repeated, 4)
    assert torch.allclose(found, tile - tile.mean(dim=(2, 3), keepdim=True), atol=1e-6)
    texture = torch.randn(1, 3, 144, 144)
    assert periodic_pattern(texture, 4).abs().mean() < 0.1 * found.abs().mean()
    assert periodic_pattern(torch.full((1, 3, 144, 144), 0.3), 12).abs().max() < 1e-6
    # the generator's pixel (3 px at 3x) and the network's own grid (4 px) tile 12 px squares
    assert [pattern_period(scale) for scale in (2, 3, 4)] == [4, 12, 4]
    with pytest.raises(ValueError, match="multiple of 12"):
        DetailConfig(scales=(3,), crop=138)  # 23 cells of 6 px: the pattern would not tile


def test_a_photo_is_softened_to_the_generators_sharpness_never_sharpened() -> None:
    photo = photo_like(256, 192, seed=1)
    soft = photo.filter(ImageFilter.GaussianBlur(1.2))
    softened = softened_to(photo, soft)
    assert laplacian_spread(softened) == pytest.approx(laplacian_spread(soft), rel=0.05)
    assert softened_to(soft, photo) is soft  # already softer: as it is


def test_the_network_can_see_the_generators_own_segmentation_enlarged(
    make_model: MakeModel,
) -> None:
    enlarged = replace(SMALL, segmentation="enlarged")
    path = make_model("edgy", EdgesConfig(), enhancer=enlarged)
    assert read_spec(path).enhancer == enlarged
    translator = ImageTranslator(
        load_model(path, torch.device("cpu")), "eager-fp32", batch_size=1, streams=1
    )
    small, large = answer(translator, photo_like(256, 192), 1024)
    drawn = to_tensor(small.segmentation)[None]
    expected = F.interpolate(drawn, size=(192, 256), mode="bilinear", align_corners=False)
    assert (to_tensor(large.segmentation)[None] - expected).abs().max() <= 1 / 255 + 1e-6
    with pytest.raises(ValueError, match="segmentation must be one of"):
        EnhancerConfig(segmentation="sketch")
    older = {k: v for k, v in SMALL.to_dict().items() if k != "segmentation"}
    assert EnhancerConfig(**older).segmentation == "redrawn"  # files from before the option


def test_the_network_can_see_the_generators_edges_traced_one_pixel_wide(
    make_model: MakeModel,
) -> None:
    traced = replace(SMALL, segmentation="traced")
    path = make_model("traced", EdgesConfig(), enhancer=traced)
    translator = ImageTranslator(
        load_model(path, torch.device("cpu")), "eager-fp32", batch_size=1, streams=1
    )
    small, large = answer(translator, photo_like(256, 192), 1024)
    drawn = to_tensor(small.segmentation)[None]
    assert torch.equal(to_tensor(large.segmentation)[None], trace_larger(drawn, 192, 256))
    with pytest.raises(ValueError, match="traced segmentation is drawn from edges"):
        DetailConfig(enhancer=traced).for_segmenter(ClustersConfig())


@pytest.mark.parametrize("scale", [4.0, 2.5])
def test_traced_edges_are_connected_lines_through_the_small_pixels_centres(scale: float) -> None:
    small = torch.zeros(1, 3, 12, 12)
    line = [(2, 1), (2, 2), (2, 3), (3, 4), (4, 5), (5, 5), (6, 5), (7, 4), (8, 3)]
    for row, column in line:
        small[0, :, row, column] = 1
    side = round(12 * scale)
    traced = trace_larger(small, side, side)[0, 0] > 0.5
    assert measure.label(traced.numpy(), connectivity=2).max() == 1  # one line, no gaps
    centres = torch.tensor([((r + 0.5) * scale, (c + 0.5) * scale) for r, c in line])
    drawn = traced.nonzero().float() + 0.5
    # every pixel drawn lies on a segment between neighbouring centres, to within a pixel
    starts, ends = centres[:-1], centres[1:]
    along = ((drawn[:, None] - starts) * (ends - starts)).sum(-1) / (ends - starts).pow(2).sum(-1)
    nearest = starts + along.clamp(0, 1)[..., None] * (ends - starts)
    assert (drawn[:, None] - nearest).norm(dim=-1).min(dim=1).values.max() <= 0.75
    assert traced.sum() <= 1.5 * scale * len(line)  # one pixel wide


def test_checkpoints_from_before_the_periodic_loss_say_they_were_trained_without_it() -> None:
    saved = DetailConfig(periodic=50).to_dict()
    assert DetailConfig.from_dict(saved).periodic == 50
    del saved["periodic"]
    assert DetailConfig.from_dict(saved).periodic == 0


def test_admins_retraining_trains_as_long_as_the_bundled_models_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BEAUTYNET_TRAIN_DETAIL_STEPS", raising=False)
    detail = train_defaults(Settings()).detail
    assert detail is not None and detail.for_segmenter(EdgesConfig()).steps == 3_200
    monkeypatch.setenv("BEAUTYNET_TRAIN_DETAIL_STEPS", "50")
    detail = train_defaults(Settings()).detail
    assert detail is not None and detail.for_segmenter(ClustersConfig()).steps == 50
    monkeypatch.setenv("BEAUTYNET_TRAIN_DETAIL_STEPS", "0")
    assert train_defaults(Settings()).detail is None  # no detail network
