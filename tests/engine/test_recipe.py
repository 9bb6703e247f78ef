"""The training recipe: loss kinds, multi-scale discriminator, DiffAugment, learning-rate decay,
and old checkpoints' configs read as the pix2pix recipe they were trained with."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from bench.recipes import variants
from engine.nets import DiscriminatorConfig, GeneratorConfig, MultiScaleDiscriminator
from engine.training import TrainConfig, Trainer
from engine.training.augment import diff_augment, parse_policy
from engine.training.config import linear_decay
from engine.training.losses import (
    adversarial,
    chroma_grain_excess,
    chroma_grain_of,
    colour_distribution,
    feature_matching,
    lightness_grain_deficit,
    lightness_grain_of,
)
from engine.training.quality import chroma_grain

CPU = torch.device("cpu")


def config(**overrides: object) -> TrainConfig:
    values: dict[str, object] = {
        "model_name": "tiny",
        "generator": GeneratorConfig(ngf=4, depth=6),
        "discriminator": DiscriminatorConfig(ndf=4, scales=2, spectral_norm=True),
        "size": 64,
        "epochs": 4,
        "epoch_samples": 2,
        "checkpoint_interval_s": 3600.0,
    }
    values.update(overrides)
    return TrainConfig(**values)  # type: ignore[arg-type]


def photos(n: int, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, 72, 88), dtype=torch.uint8, generator=generator)] * n


@pytest.mark.parametrize("gan_loss", ["bce", "hinge", "lsgan"])
def test_each_recipe_trains_both_networks(tmp_path: Path, gan_loss: str) -> None:
    recipe = config(gan_loss=gan_loss, diff_augment="color,translation,cutout")
    trainer = Trainer(recipe, photos(2, 0), photos(1, 1), tmp_path, CPU, precision="fp32")
    scales = trainer.discriminator.scales
    before = [[p.detach().clone() for p in scale.parameters()] for scale in scales]
    losses = trainer.train_step()
    assert set(losses) == {"d", "g_gan", "g_l1", "g_fm"}
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    assert losses["g_fm"] > 0
    assert len(scales) == 2
    for old, scale in zip(before, scales, strict=True):  # every scale learns
        assert any(not torch.equal(a, b) for a, b in zip(old, scale.parameters(), strict=True))


def test_learning_rates_decay_linearly_after_the_start(tmp_path: Path) -> None:
    recipe = config(epochs=4, epoch_samples=1, lr_decay_start=0.5, lr_g=1e-4, lr_d=4e-4)
    factors = [linear_decay(p, recipe.lr_decay_start) for p in (0.0, 0.5, 0.75, 1.0)]
    assert factors == [1.0, 1.0, 0.5, 0.0]
    trainer = Trainer(recipe, photos(2, 0), photos(1, 1), tmp_path, CPU, precision="fp32")
    rates = []
    for _ in range(4):
        trainer.train_step()
        rates.append((trainer.opt_g.param_groups[0]["lr"], trainer.opt_d.param_groups[0]["lr"]))
    flat = [rate for pair in rates for rate in pair]
    assert flat == pytest.approx([1e-4, 4e-4, 1e-4, 4e-4, 1e-4, 4e-4, 5e-5, 2e-4])


def test_a_config_without_recipe_fields_is_the_pix2pix_recipe() -> None:
    saved = config().to_dict()
    for key in ("gan_loss", "feature_matching", "diff_augment", "lr_decay_start", "lr_g", "lr_d"):
        del saved[key]
    saved["lr"] = 2e-4
    for key in ("scales", "spectral_norm"):
        del saved["discriminator"][key]
    old = TrainConfig.from_dict(saved)
    assert (old.gan_loss, old.feature_matching, old.diff_augment) == ("bce", 0.0, "")
    assert (old.lr_g, old.lr_d, old.lr_decay_start) == (2e-4, 2e-4, 1.0)
    assert (old.discriminator.scales, old.discriminator.spectral_norm) == (1, False)
    assert TrainConfig.from_dict(config().to_dict()) == config()


def test_recipe_fields_are_validated() -> None:
    with pytest.raises(ValueError, match="gan_loss"):
        config(gan_loss="wasserstein")
    with pytest.raises(ValueError, match="diff_augment"):
        config(diff_augment="translation,rotation")
    with pytest.raises(ValueError, match="lr_decay_start"):
        config(lr_decay_start=1.5)
    with pytest.raises(ValueError, match="colour_distribution"):
        config(colour_distribution=-1.0)
    with pytest.raises(ValueError, match="chroma_grain"):
        config(chroma_grain=-1.0)
    with pytest.raises(ValueError, match="light_grain"):
        config(light_grain=-1.0)
    with pytest.raises(ValueError, match="scales"):
        DiscriminatorConfig(scales=0)


def test_diff_augment_treats_real_and_fake_alike_and_keeps_shapes() -> None:
    torch.manual_seed(0)
    seg, real = torch.rand(3, 3, 32, 32), torch.rand(3, 3, 32, 32)
    policy = parse_policy("color,translation,cutout")
    seg_a, real_a, fake_a = diff_augment((seg, real, real.clone()), policy)
    assert real_a.shape == fake_a.shape == seg_a.shape == (3, 3, 32, 32)
    assert torch.equal(real_a, fake_a)  # the same parameters for a sample's real and fake
    assert not torch.equal(real_a, real)
    assert torch.equal(diff_augment((seg, real, real), ())[1], real)


def test_translation_of_what_autocast_gives_moves_whole_pixels() -> None:
    # bfloat16 channels-last, as the generator's output under autocast on the CPU: sampled in
    # bfloat16, the grid's coordinates round to the wrong pixels and, at times, to NaN.
    policy = parse_policy("translation")
    pairs = tuple(
        (torch.rand(4, 3, 128, 128) * 2 - 1)
        .bfloat16()
        .contiguous(memory_format=torch.channels_last)
        for _ in range(3)
    )
    torch.manual_seed(0)
    expected = diff_augment(tuple(t.float() for t in pairs), policy)  # type: ignore[arg-type]
    torch.manual_seed(0)
    shifted = diff_augment(pairs, policy)  # type: ignore[arg-type]
    for before, after, want in zip(pairs, shifted, expected, strict=True):
        assert after.dtype == torch.bfloat16 and not torch.equal(after, before)
        assert torch.equal(after.float(), want)


@torch.no_grad()
def test_feature_matching_is_zero_for_identical_features_and_grows_with_difference() -> None:
    torch.manual_seed(0)
    discriminator = MultiScaleDiscriminator(DiscriminatorConfig(ndf=4, scales=2))
    seg, image = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    same = discriminator(seg, image)
    other = discriminator(seg, torch.rand(2, 3, 64, 64))
    assert float(feature_matching(same, same)) == 0.0
    assert float(feature_matching(other, same)) > 0.0
    assert [f[-1].shape[-1] for f in same] == [6, 2]  # finest scale first
    hinge_d = adversarial("hinge", same, same)
    assert torch.isfinite(hinge_d)


def test_the_recipe_benchmark_defaults_are_the_train_config_defaults() -> None:
    recipe, nets = next(v for name, v in variants().items() if "(defaults)" in name)
    defaults = TrainConfig(model_name="x")
    assert {key: getattr(defaults, key) for key in recipe} == recipe
    assert defaults.generator.upsample == nets["upsample"]
    assert defaults.generator.noise == nets["noise"]
    assert defaults.discriminator.scales == nets["scales"]
    assert defaults.discriminator.spectral_norm == nets["spectral_norm"]


def vivid_stripes() -> torch.Tensor:
    """A (1, 3, 64, 64) image in [-1, 1]: saturated red, green, blue and yellow stripes."""
    colours = torch.tensor([[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.1, 0.2, 0.9], [0.9, 0.8, 0.1]])
    stripes = colours.repeat_interleave(16, 0).T[:, None, :].expand(3, 64, 64)
    return (stripes * 2 - 1).unsqueeze(0).contiguous()


def channel_spread(image: torch.Tensor) -> float:
    """How far a pixel's channels are apart, on average: 0 for grey."""
    return float(image.std(dim=1).mean())


def test_the_colour_distribution_loss_asks_for_colours_not_their_places() -> None:
    torch.manual_seed(0)  # the random projections
    photo = vivid_stripes()
    grey = photo.mean(1, keepdim=True).expand_as(photo)
    moved = photo.roll(32, dims=3)  # the same colours elsewhere: L1 is large, the colours equal
    assert float(colour_distribution(photo, photo)) < 1e-3
    assert float(colour_distribution(moved, photo)) < 1e-3 < float((moved - photo).abs().mean())
    assert float(colour_distribution(grey, photo)) > 0.2
    # Each image may carry any of the batch's colours: only the batch's set of colours counts.
    batch = torch.cat([photo, grey])
    assert float(colour_distribution(batch.flip(0), batch)) < 1e-6

    # Its gradient saturates a washed-out image towards the photo's colours.
    washed = (0.3 * photo + 0.7 * grey).requires_grad_(True)
    colour_distribution(washed, photo).backward()
    assert washed.grad is not None
    stepped = washed.detach() - 0.1 * washed.grad / washed.grad.abs().max()
    assert channel_spread(stepped) > 1.1 * channel_spread(washed.detach())

    # At 128 px every pixel gets its own gradient: pooling would give each 2x2 block one,
    # sampling would leave most pixels without one.
    smooth = F.interpolate(washed.detach(), scale_factor=2.0, mode="bilinear")
    large = (smooth + 0.01 * torch.randn_like(smooth)).requires_grad_(True)
    colour_distribution(large, F.interpolate(photo, scale_factor=2.0)).backward()
    assert large.grad is not None
    assert bool((large.grad.abs().sum(dim=1) > 0).all())
    rows = large.grad[..., 0::2, :], large.grad[..., 1::2, :]
    assert not torch.allclose(*rows)


def test_the_chroma_weight_makes_a_wash_cost_more_than_a_change_of_lightness() -> None:
    photo = vivid_stripes()
    grey = photo.mean(1, keepdim=True).expand_as(photo)
    washed = 0.5 * photo + 0.5 * grey
    darker = photo - 0.1

    def loss(fake: torch.Tensor, chroma_weight: float) -> float:
        torch.manual_seed(0)  # the same projections for every call
        return float(colour_distribution(fake, photo, chroma_weight, projections=64))

    # Weight 1 compares in a rotation of RGB: the same loss as comparing RGB itself.
    torch.manual_seed(0)
    directions = F.normalize(torch.randn(3, 64), dim=0)
    pixels = [image.flatten(2).permute(0, 2, 1).reshape(-1, 3) for image in (washed, photo)]
    in_rgb = F.mse_loss(*[(p @ directions).sort(dim=0).values for p in pixels])
    assert loss(washed, 1.0) == pytest.approx(float(in_rgb), rel=0.2)
    # Above 1, losing saturation costs more relative to losing lightness.
    ratio = {w: loss(washed, w) / loss(darker, w) for w in (1.0, 3.0)}
    assert ratio[3.0] > 3 * ratio[1.0]
    assert loss(photo, 3.0) < 1e-6


def test_a_run_with_the_colour_losses_reports_them(tmp_path: Path) -> None:
    recipe = config(colour_distribution=5.0, chroma_grain=10.0, light_grain=10.0)
    trainer = Trainer(recipe, photos(2, 0), photos(1, 1), tmp_path, CPU, precision="fp32")
    losses = trainer.train_step()
    assert set(losses) == {"d", "g_gan", "g_l1", "g_fm", "g_colour", "g_grain", "g_light"}
    assert losses["g_colour"] > 0
    assert losses["g_grain"] >= 0
    assert losses["g_light"] > 0  # a random generator is smoother than random-pixel photos


def smooth_photo(size: int = 64, seed: int = 0) -> torch.Tensor:
    """(1, 3, size, size) in [-1, 1]: smooth colour gradients, as in a photograph's regions."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 4, 4, generator=generator) * 2 - 1
    smooth = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True)
    return smooth.clamp(-1, 1)


def with_speckle(image: torch.Tensor, amplitude: float = 0.3, seed: int = 1) -> torch.Tensor:
    """Independent colour noise on every pixel and channel: the rainbow speckle."""
    generator = torch.Generator().manual_seed(seed)
    return (image + amplitude * torch.randn(image.shape, generator=generator)).clamp(-1, 1)


def test_the_chroma_grain_loss_reads_the_quality_figure() -> None:
    # The figure reads images at a long side of 256 px.
    for image in (smooth_photo(256), with_speckle(smooth_photo(256))):
        pixels = ((image[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255)
        picture = Image.fromarray(pixels.to(torch.uint8).numpy())
        levels = float(chroma_grain_of(((pixels.permute(2, 0, 1) / 127.5) - 1)[None])) * 127.5
        assert levels == pytest.approx(chroma_grain(picture), rel=0.02, abs=0.1)


def test_the_chroma_grain_loss_prices_speckle_beyond_the_photo_and_never_lightness() -> None:
    photo = smooth_photo()
    speckled = with_speckle(photo)
    assert float(chroma_grain_excess(photo, photo)) == 0.0
    assert float(chroma_grain_excess(photo, speckled)) == 0.0  # smoother than its photo: free
    assert float(chroma_grain_excess(speckled, photo)) > 0.1

    # Lightness noise is not colour noise: the same noise on all channels costs nothing.
    generator = torch.Generator().manual_seed(2)
    grey_noise = 0.3 * torch.randn(1, 1, 64, 64, generator=generator)
    assert float(chroma_grain_excess(photo + grey_noise, photo)) < 1e-6

    # Its gradient smooths the colour and leaves each pixel's channel mean (lightness) alone.
    fake = speckled.clone().requires_grad_(True)
    chroma_grain_excess(fake, photo).backward()
    assert fake.grad is not None
    assert float(fake.grad.sum(dim=1).abs().max()) < 1e-6
    stepped = fake.detach() - 0.5 * fake.grad / fake.grad.abs().max()
    assert float(chroma_grain_of(stepped)) < 0.9 * float(chroma_grain_of(speckled))


def test_the_lightness_grain_loss_asks_for_the_photos_texture_in_light_and_dark_only() -> None:
    generator = torch.Generator().manual_seed(3)
    texture = 0.2 * torch.randn(1, 1, 64, 64, generator=generator)
    photo = smooth_photo() + texture  # fine texture in lightness, as on petals and leaves
    smooth = smooth_photo()
    assert float(lightness_grain_deficit(photo, photo)) == 0.0
    assert float(lightness_grain_deficit(photo + 2 * texture, photo)) == 0.0  # more: free
    assert float(lightness_grain_deficit(smooth, photo)) > 0.1
    # A colour speckle is no lightness texture.
    assert float(lightness_grain_of(with_speckle(smooth) - smooth)) < float(
        chroma_grain_of(with_speckle(smooth) - smooth)
    )

    # Its gradient moves the three channels of a pixel alike: lightness, not colour.
    fake = smooth.clone().requires_grad_(True)
    lightness_grain_deficit(fake, photo).backward()
    assert fake.grad is not None
    assert torch.allclose(fake.grad[:, 0], fake.grad[:, 1]) and torch.allclose(
        fake.grad[:, 1], fake.grad[:, 2]
    )
    stepped = fake.detach() - 0.5 * fake.grad / fake.grad.abs().max()
    assert float(lightness_grain_of(stepped)) > float(lightness_grain_of(smooth))


def test_the_grain_losses_give_nothing_for_a_line_along_the_border() -> None:
    photo = smooth_photo() + 0.2 * torch.randn(
        1, 1, 64, 64, generator=torch.Generator().manual_seed(4)
    )
    smooth = smooth_photo()
    lined = smooth.clone()
    lined[..., :, :2] = -1.0  # a dark line down the left side, as a generator can draw
    lined[..., :2, :] = torch.tensor([1.0, -1.0, 1.0]).view(1, 3, 1, 1)  # a magenta top
    assert float(lightness_grain_of(lined)) > float(lightness_grain_of(smooth))  # whole image
    assert float(lightness_grain_deficit(lined, photo)) == pytest.approx(
        float(lightness_grain_deficit(smooth, photo)), rel=1e-3
    )
    assert float(chroma_grain_excess(lined, smooth)) < 1e-5
