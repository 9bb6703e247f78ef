"""Image I/O for the engine: robust decoding, composition and encoding (no torch: tensor
conversions are in `engine.imaging.tensors`)."""

from engine.imaging.compose import grid, side_by_side
from engine.imaging.convert import fit_long_side, fitted_size
from engine.imaging.decode import ImageLimits, check_image_file, decode_image, read_image
from engine.imaging.encode import ImageFormat, encode_image, encode_within, format_from_path

__all__ = [
    "ImageFormat",
    "ImageLimits",
    "check_image_file",
    "decode_image",
    "encode_image",
    "encode_within",
    "fit_long_side",
    "fitted_size",
    "format_from_path",
    "grid",
    "read_image",
    "side_by_side",
]
