"""The pix2pix U-Net generator (Isola et al. 2017, "unet_256" at depth 8).

Encoder: `depth` stride-2 4x4 convolutions, widths ngf, 2ngf, 4ngf, 8ngf, 8ngf, ...
Decoder: mirrored 2x upsampling layers, each concatenated with its encoder twin (skip). The
paper's transposed convolutions leave checkerboard patterns (Odena et al., Distill 2016);
`upsample="nearest"` (resize, then a 3x3 convolution) and `"pixelshuffle"` (sub-pixel
convolution with ICNR initialisation, Aitken et al. 2017) start free of them. A nearest
resize repeats every row and column, so the 3x3 convolution after it sees pairs and can still
learn a period-2 ripple; `"bilinear"` interpolates the new rows and columns instead (the same
weights as "nearest"). Every output pixel is then drawn by one 3x3 convolution from features
at half size, smoothly resized: `input_skip=True` also hands that last convolution the input
segmentation at full size (and per-pixel noise, with `noise`), so fine detail can follow it.
Dropout 0.5 in the three innermost decoder levels is a training-time regulariser only:
inference runs in eval mode, so the same input always gives the same output.

Inside a flat region of the segmentation, neighbouring pixels see the same input, so fine
texture there has nothing to come from (the bundled v2 models paint such regions flat).
`noise=True` adds StyleGAN's per-pixel noise (Karras et al. 2019) after every decoder level,
scaled per channel by a learned strength that starts at 0, so that the network can paint
petals and leaves inside flat regions. Training draws new noise each step; inference uses one
fixed, seeded field per size, so the same input still always gives the same output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache

import torch
from torch import nn

from engine.specs import RESIZE_KINDS, GeneratorConfig, NormKind, UpsampleKind

from .norm import make_norm

# The last convolution of a generator without the input skip (inside its upsampling layer),
# and of one with it.
_PLAIN_LAST_CONV = "outermost.1.1"
_SKIP_LAST_CONV = "outermost.to_image.0"


def _width(cfg: GeneratorConfig, level: int) -> int:
    """Channels after encoder level `level` (0 = outermost): ngf * 2**level, capped at 8 ngf."""
    return cfg.ngf * min(2**level, 8)


class _Down(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, norm: NormKind | None, activation: bool) -> None:
        # Not in place: the input is also a skip connection.
        layers: list[nn.Module] = [nn.LeakyReLU(0.2)] if activation else []
        layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm is None))
        if norm is not None:
            layers.append(make_norm(norm, c_out))
        super().__init__(*layers)


def _icnr_(conv: nn.Conv2d, scale: int) -> None:
    """ICNR: each group of scale**2 sub-pixel filters starts equal, i.e. as nearest upsampling."""
    c_out = conv.out_channels // scale**2
    weight = torch.empty(c_out, *conv.weight.shape[1:])
    nn.init.kaiming_uniform_(weight, a=5**0.5)  # nn.Conv2d's own default
    with torch.no_grad():
        conv.weight.copy_(weight.repeat_interleave(scale**2, dim=0))


def upsample_layer(kind: UpsampleKind, c_in: int, c_out: int, bias: bool) -> nn.Module:
    """(B, c_in, H, W) -> (B, c_out, 2H, 2W)."""
    if kind == "transpose":
        return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)
    if kind in RESIZE_KINDS:
        return nn.Sequential(
            nn.Upsample(scale_factor=2, mode=kind), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias)
        )
    conv = nn.Conv2d(c_in, 4 * c_out, 3, 1, 1, bias=bias)
    _icnr_(conv, 2)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return nn.Sequential(conv, nn.PixelShuffle(2))


@lru_cache(maxsize=32)
def _fixed_noise(height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The inference noise field for one size: the same on every call and every machine.

    Cached where it is used, so a stream of frames does not copy it to the GPU every time;
    made outside inference mode, so that a field first made while serving can also be used
    by a forward pass that records gradients.
    """
    with torch.inference_mode(False):
        field = torch.randn(1, 1, height, width, generator=torch.Generator().manual_seed(0))
        return field.to(device, dtype)


class NoiseInjection(nn.Module):
    """x + strength * per-pixel noise, one strength per channel (0 at first: a no-op)."""

    fixed: torch.Tensor | None

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("fixed", None, persistent=False)  # see fix_noise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        if self.training:
            noise = torch.randn(b, 1, h, w, device=x.device, dtype=x.dtype)
        elif self.fixed is not None and self.fixed.shape[-2:] == x.shape[-2:]:
            noise = self.fixed.to(x.dtype)
        else:
            noise = _fixed_noise(h, w, x.device, x.dtype)
        return x + self.strength.to(x.dtype) * noise


def fix_noise(generator: UnetGenerator, height: int, width: int) -> None:
    """Store in each noise layer the inference noise field of a (height, width) input (and
    put the generator in eval mode, where that field is used).

    A graph exporter (ONNX, torch.compile) then sees a constant instead of a seeded random
    draw; the values are those of eager inference, so the output does not change.
    """
    layers = [m for m in generator.modules() if isinstance(m, NoiseInjection)]
    shapes: dict[NoiseInjection, tuple[int, int, torch.dtype, torch.device]] = {}

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0]
        shapes[module] = (x.shape[-2], x.shape[-1], x.dtype, x.device)  # type: ignore[index]

    hooks = [layer.register_forward_pre_hook(record) for layer in layers]
    try:
        parameter = next(generator.parameters())
        probe = torch.zeros(1, generator.cfg.in_channels, height, width, device=parameter.device)
        with torch.no_grad():
            generator.eval()(probe)
    finally:
        for hook in hooks:
            hook.remove()
    for layer, (h, w, dtype, device) in shapes.items():
        layer.fixed = _fixed_noise(h, w, device, dtype)


class _Up(nn.Sequential):
    def __init__(
        self,
        c_in: int,
        c_out: int,
        norm: NormKind | None,
        dropout: float,
        kind: UpsampleKind,
        noise: bool,
    ) -> None:
        layers: list[nn.Module] = [
            nn.ReLU(inplace=True),
            upsample_layer(kind, c_in, c_out, bias=norm is None),
        ]
        if norm is not None:
            layers.append(make_norm(norm, c_out))
        if noise:  # after the norm, which would otherwise rescale it away
            layers.append(NoiseInjection(c_out))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


class _SkipOutermost(nn.Module):
    """The last level with a skip from the input itself: resize the features to full size,
    add per-pixel noise (with `noise`), and draw the image from them and the segmentation.

    Without it every output pixel comes from one 3x3 convolution of features at half size,
    so after a smooth (bilinear) resize the output carries no detail finer than two pixels.
    """

    def __init__(self, cfg: GeneratorConfig, c_in: int) -> None:
        super().__init__()
        self.resize = nn.Sequential(nn.ReLU(), nn.Upsample(scale_factor=2, mode=cfg.upsample))
        self.noise = NoiseInjection(c_in) if cfg.noise else nn.Identity()
        # Replicate padding: zero padding showed the convolution a grey frame, which it
        # drew as a one-pixel line along every side the pipeline had not padded itself.
        self.to_image = nn.Sequential(
            nn.Conv2d(c_in + cfg.in_channels, cfg.out_channels, 3, 1, 1, padding_mode="replicate"),
            nn.Tanh(),
        )

    def forward(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        full_size = self.noise(self.resize(features))
        return self.to_image(torch.cat([full_size, image], dim=1))


class UnetGenerator(nn.Module):
    """Maps a (B, in, H, W) segmentation in [-1, 1] to a (B, out, H, W) image in [-1, 1]."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.depth
        widths = [_width(cfg, i) for i in range(d)]
        # Outermost down has no norm or activation; innermost has no norm (its output is 1x1).
        self.downs = nn.ModuleList(
            _Down(
                cfg.in_channels if i == 0 else widths[i - 1],
                widths[i],
                norm=None if i in (0, d - 1) else cfg.norm,
                activation=i > 0,
            )
            for i in range(d)
        )
        # ups[i] produces the tensor that is concatenated with downs[i - 1]'s output.
        self.ups = nn.ModuleList(
            _Up(
                widths[i] if i == d - 1 else 2 * widths[i],
                widths[i - 1],
                norm=cfg.norm,
                dropout=cfg.dropout if d - 4 <= i < d - 1 else 0.0,
                kind=cfg.upsample,
                noise=cfg.noise,
            )
            for i in range(d - 1, 0, -1)
        )
        self.outermost: nn.Module
        if cfg.input_skip:
            self.outermost = _SkipOutermost(cfg, 2 * widths[0])
        else:
            self.outermost = nn.Sequential(
                nn.ReLU(inplace=True),
                upsample_layer(cfg.upsample, 2 * widths[0], cfg.out_channels, bias=True),
                nn.Tanh(),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image, skips = x, []
        for down in self.downs:  # (B, C_i, H / 2**(i+1), W / 2**(i+1))
            x = down(x)
            skips.append(x)
        x = skips.pop()
        for up in self.ups:
            x = torch.cat([up(x), skips.pop()], dim=1)
        if self.cfg.input_skip:
            return self.outermost(x, image)
        return self.outermost(x)  # (B, out, H, W)

    def load_weights_of(self, state: Mapping[str, torch.Tensor]) -> None:
        """Load another generator's weights to fine-tune them; noise strengths that it lacks
        (a generator without noise) keep their initial 0, and so do the input channels of the
        last convolution when it gains the input skip, so the output starts unchanged (but for
        a change of resize kind, and the input skip's replicate-padded one-pixel border)."""
        if self.cfg.input_skip and f"{_PLAIN_LAST_CONV}.weight" in state:
            state = _with_input_skip(state, self.cfg.in_channels)
        missing, unexpected = self.load_state_dict(state, strict=False)
        not_noise = [key for key in missing if not key.endswith(".strength")]
        if not_noise or unexpected:
            raise ValueError(
                f"weights do not fit this generator: missing {not_noise}, unexpected {unexpected}"
            )


def weights_fit(source: GeneratorConfig, target: GeneratorConfig) -> bool:
    """Whether a `source` generator's weights can start a `target` one: the same network, or
    one with noise or the input skip added (their new weights start at 0), or one resizing the
    other way before the same convolutions (nearest or bilinear)."""
    resizes = set(RESIZE_KINDS)
    if source.upsample != target.upsample and not {source.upsample, target.upsample} <= resizes:
        return False
    if (source.noise and not target.noise) or (source.input_skip and not target.input_skip):
        return False
    grown = replace(
        source, upsample=target.upsample, noise=target.noise, input_skip=target.input_skip
    )
    return grown == target


def _with_input_skip(
    state: Mapping[str, torch.Tensor], in_channels: int
) -> dict[str, torch.Tensor]:
    """A resize-kind generator's weights, its last convolution moved to the input skip's and
    given zero weights for the input's channels."""
    grown = dict(state)
    weight = grown.pop(f"{_PLAIN_LAST_CONV}.weight")
    bias = grown.pop(f"{_PLAIN_LAST_CONV}.bias")
    zeros = weight.new_zeros(weight.shape[0], in_channels, *weight.shape[2:])
    grown[f"{_SKIP_LAST_CONV}.weight"] = torch.cat([weight, zeros], dim=1)
    grown[f"{_SKIP_LAST_CONV}.bias"] = bias
    return grown


def default_depth(size: int) -> int:
    """unet_256 has 8 levels; a smaller crop gets as many as it can halve through (>= 5)."""
    depth = 8
    while depth > 5 and size % 2**depth:
        depth -= 1
    return depth
