"""pix2pix networks: the U-Net generator and the (multi-scale) PatchGAN discriminator."""

from .patchgan import DiscriminatorConfig, Features, MultiScaleDiscriminator, PatchDiscriminator
from .unet import (
    RESIZE_KINDS,
    UPSAMPLE_KINDS,
    GeneratorConfig,
    UnetGenerator,
    UpsampleKind,
    default_depth,
)

__all__ = [
    "RESIZE_KINDS",
    "UPSAMPLE_KINDS",
    "DiscriminatorConfig",
    "Features",
    "GeneratorConfig",
    "MultiScaleDiscriminator",
    "PatchDiscriminator",
    "UnetGenerator",
    "UpsampleKind",
    "default_depth",
]
