"""Networks: shapes, parameter counts, eval determinism, config validation."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from engine.nets import DiscriminatorConfig, GeneratorConfig, PatchDiscriminator, UnetGenerator
from engine.nets.unet import upsample_layer


def test_unet_256_has_the_paper_parameter_count() -> None:
    config = GeneratorConfig(ngf=64, depth=8, norm="batch", upsample="transpose")
    generator = UnetGenerator(config)
    assert sum(p.numel() for p in generator.parameters()) == pytest.approx(54.41e6, rel=1e-3)


@pytest.mark.parametrize(("depth", "size"), [(6, 64), (7, 128)])
def test_generator_keeps_shape_and_range(depth: int, size: int) -> None:
    generator = UnetGenerator(GeneratorConfig(ngf=4, depth=depth)).eval()
    out = generator(torch.rand(2, 3, size, size * 2) * 2 - 1)
    assert out.shape == (2, 3, size, size * 2)
    assert out.abs().max() <= 1


def test_eval_mode_is_deterministic_and_train_mode_is_not() -> None:
    torch.manual_seed(0)
    generator = UnetGenerator(GeneratorConfig(ngf=4, depth=6))
    x = torch.rand(2, 3, 64, 64)
    generator.eval()
    assert torch.equal(generator(x), generator(x))
    generator.train()
    assert not torch.equal(generator(x), generator(x))  # dropout noise


def test_eval_output_does_not_depend_on_the_batch() -> None:
    generator = UnetGenerator(GeneratorConfig(ngf=4, depth=6)).eval()
    batch = torch.rand(3, 3, 64, 64)
    together = generator(batch)
    alone = torch.cat([generator(batch[i : i + 1]) for i in range(3)])
    assert torch.allclose(together, alone, atol=1e-5)


def test_bilinear_upsampling_leaves_no_period_2_ripple_where_nearest_does() -> None:
    torch.manual_seed(0)
    nearest = upsample_layer("nearest", 1, 1, bias=False)
    bilinear = upsample_layer("bilinear", 1, 1, bias=False)
    bilinear.load_state_dict(nearest.state_dict())  # the same 3x3 convolution after the resize
    ramp = torch.arange(16.0).reshape(1, 1, 16, 1).expand(1, 1, 16, 16)  # rising down the rows

    def ripple(layer: torch.nn.Module) -> float:
        with torch.no_grad():
            rows = layer(ramp)[0, 0, 4:-4, 16]  # one column, away from the borders
        return float(rows.diff(n=2).abs().max())  # a ramp's second difference is 0

    assert ripple(nearest) > 0.1 and ripple(bilinear) < 1e-4


def test_a_generator_gaining_the_input_skip_starts_with_the_output_it_had() -> None:
    torch.manual_seed(0)
    config = GeneratorConfig(ngf=4, depth=6, upsample="bilinear", noise=True)
    before = UnetGenerator(config).eval()
    with torch.no_grad():
        for parameter in before.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))  # noise strengths too
    after = UnetGenerator(replace(config, input_skip=True)).eval()
    after.load_weights_of(before.state_dict())
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    inside = (..., slice(1, -1), slice(1, -1))  # the border ring is now replicate-padded
    assert torch.allclose(after(x)[inside], before(x)[inside], atol=1e-6)


def test_patch_discriminator_scores_70px_patches() -> None:
    discriminator = PatchDiscriminator(DiscriminatorConfig(ndf=8))
    scores = discriminator.features(torch.rand(2, 6, 256, 256))[-1]
    assert scores.shape == (2, 1, 30, 30)  # the 30x30 grid of 70x70 patches, as in pix2pix


def test_configs_round_trip_and_validate() -> None:
    config = GeneratorConfig(ngf=16, depth=7, norm="batch", dropout=0.0)
    assert GeneratorConfig.from_dict(config.to_dict()) == config
    assert config.multiple == 128
    assert DiscriminatorConfig.from_dict(DiscriminatorConfig().to_dict()) == DiscriminatorConfig()
    with pytest.raises(ValueError, match="depth"):
        GeneratorConfig(depth=3)
    with pytest.raises(ValueError, match="ngf"):
        GeneratorConfig(ngf=0)
    with pytest.raises(ValueError, match="norm"):
        UnetGenerator(GeneratorConfig(norm="group"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="input_skip needs upsample nearest or bilinear"):
        GeneratorConfig(upsample="transpose", input_skip=True)
    assert not GeneratorConfig.from_dict({"ngf": 8, "depth": 6}).input_skip  # older files


def test_the_input_skip_hands_the_full_size_input_to_the_last_convolution() -> None:
    """Without it an output pixel sees the input only through half-size features."""
    config = GeneratorConfig(ngf=4, depth=6, upsample="bilinear", input_skip=True, noise=True)
    generator = UnetGenerator(config).eval()
    last = generator.outermost.to_image[0]
    features = last.in_channels - 3
    with torch.no_grad():  # only the input's own channel, at the centre tap: tanh(input)
        last.weight.zero_()
        last.bias.zero_()
        for channel in range(3):
            last.weight[channel, features + channel, 1, 1] = 1.0
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert torch.allclose(generator(x), torch.tanh(x), atol=1e-6)


def test_the_input_skip_continues_the_picture_past_its_border() -> None:
    """Zero padding made the last convolution see a grey frame: a line along the border."""
    config = GeneratorConfig(ngf=4, depth=6, upsample="bilinear", input_skip=True)
    generator = UnetGenerator(config).eval()
    last = generator.outermost.to_image[0]
    features = last.in_channels - 3
    with torch.no_grad():  # a 3x3 mean of the input's own channel
        last.weight.zero_()
        last.bias.zero_()
        for channel in range(3):
            last.weight[channel, features + channel] = 1.0 / 9
    flat = torch.full((1, 3, 64, 64), 0.5)
    assert torch.allclose(generator(flat), torch.tanh(flat), atol=1e-6)


def _with_strength(config: GeneratorConfig, value: float) -> UnetGenerator:
    generator = UnetGenerator(config)
    with torch.no_grad():
        for name, parameter in generator.named_parameters():
            if name.endswith(".strength"):
                parameter.fill_(value)
    return generator


def test_noise_is_fixed_at_inference_and_fresh_in_training() -> None:
    torch.manual_seed(0)
    config = GeneratorConfig(ngf=4, depth=6, dropout=0.0, noise=True)
    generator = _with_strength(config, 1.0).eval()
    flat = torch.zeros(3, 3, 64, 64)  # one flat region: only noise can vary the output
    out = generator(flat)
    assert torch.equal(out, generator(flat))
    assert torch.allclose(out, generator(flat[:1]).expand_as(out), atol=1e-5)
    assert out[0].std(dim=(1, 2)).min() > 1e-3  # texture inside the flat region
    generator.train()
    assert not torch.equal(generator(flat), generator(flat))


def test_a_noise_field_first_made_while_serving_also_serves_a_gradient_pass() -> None:
    generator = UnetGenerator(GeneratorConfig(ngf=4, depth=6, noise=True)).eval()
    x = torch.rand(1, 3, 128, 192)  # a size no other test uses: the field is made here
    with torch.inference_mode():
        served = generator(x)
    recorded = generator(x)
    recorded.sum().backward()  # would fail on a field made as an inference tensor
    assert torch.equal(served, recorded.detach())


def test_a_generator_without_noise_loads_into_one_with_it_unchanged() -> None:
    torch.manual_seed(0)
    plain = UnetGenerator(GeneratorConfig(ngf=4, depth=6)).eval()
    noisy = UnetGenerator(GeneratorConfig(ngf=4, depth=6, noise=True)).eval()
    noisy.load_weights_of(plain.state_dict())
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert torch.allclose(noisy(x), plain(x), atol=1e-6)  # strengths start at 0
    assert not any(name.endswith(".strength") for name, _ in plain.named_parameters())
    with pytest.raises(ValueError, match="do not fit"):
        plain.load_weights_of(noisy.state_dict())
    assert GeneratorConfig.from_dict({"ngf": 4, "depth": 6}).noise is False  # older files
