"""pix2pix networks: the U-Net generator, the (multi-scale) PatchGAN discriminator, and the
detail network that paints results larger than the generator's."""

from engine.specs import UPSAMPLE_KINDS, EnhancerConfig, GeneratorConfig, UpsampleKind

from .enhancer import DetailEnhancer
from .patchgan import DiscriminatorConfig, Features, MultiScaleDiscriminator, PatchDiscriminator
from .unet import UnetGenerator, default_depth, fix_noise, weights_fit

__all__ = [
    "UPSAMPLE_KINDS",
    "DetailEnhancer",
    "DiscriminatorConfig",
    "EnhancerConfig",
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
