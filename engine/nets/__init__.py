"""pix2pix networks: the U-Net generator and the (multi-scale) PatchGAN discriminator."""

from engine.specs import UPSAMPLE_KINDS, GeneratorConfig, UpsampleKind

from .patchgan import DiscriminatorConfig, Features, MultiScaleDiscriminator, PatchDiscriminator
from .unet import UnetGenerator, default_depth, fix_noise, weights_fit

__all__ = [
    "UPSAMPLE_KINDS",
    "DiscriminatorConfig",
    "Features",
    "GeneratorConfig",
    "MultiScaleDiscriminator",
    "PatchDiscriminator",
    "UnetGenerator",
    "UpsampleKind",
    "default_depth",
    "fix_noise",
    "weights_fit",
]
