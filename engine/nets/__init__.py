"""pix2pix networks: the U-Net generator and the PatchGAN discriminator."""

from .patchgan import DiscriminatorConfig, PatchDiscriminator
from .unet import GeneratorConfig, UnetGenerator, default_depth

__all__ = [
    "DiscriminatorConfig",
    "GeneratorConfig",
    "PatchDiscriminator",
    "UnetGenerator",
    "default_depth",
]
