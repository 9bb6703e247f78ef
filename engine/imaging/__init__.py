"""Image I/O for the engine: robust decoding, composition, encoding and tensor conversion."""

from engine.imaging.compose import grid, side_by_side
from engine.imaging.convert import fit_long_side, fitted_size, to_image, to_tensor
from engine.imaging.decode import ImageLimits, decode_image, read_image
from engine.imaging.encode import ImageFormat, encode_image, encode_within, format_from_path

__all__ = [
    "ImageFormat",
    "ImageLimits",
    "decode_image",
    "encode_image",
    "encode_within",
    "fit_long_side",
    "fitted_size",
    "format_from_path",
    "grid",
    "read_image",
    "side_by_side",
    "to_image",
    "to_tensor",
]
