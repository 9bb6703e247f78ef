"""Image input and output: decoding untrusted bytes, conversion, composition, encoding."""

from .compose import grid, side_by_side
from .convert import fit_long_side, to_image, to_tensor
from .decode import ImageLimits, decode_image, read_image
from .encode import ImageFormat, encode_image, format_from_path

__all__ = [
    "ImageFormat",
    "ImageLimits",
    "decode_image",
    "encode_image",
    "fit_long_side",
    "format_from_path",
    "grid",
    "read_image",
    "side_by_side",
    "to_image",
    "to_tensor",
]
