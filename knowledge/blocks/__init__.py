"""Building blocks: conv shapes, resampling, activations, receptive field, PPM, matting.

Everything here is public through ``knowledge.blocks``.
"""

from knowledge.blocks.activations import ELU, LeakyReLU, PReLU
from knowledge.blocks.conv_shapes import conv_output_size, same_padding
from knowledge.blocks.matting import (
    composite,
    gaussian_gradient,
    make_trimap,
    matting_grad,
    matting_mse,
    matting_sad,
)
from knowledge.blocks.ppm import PPM, PSPHead, conv_norm_relu
from knowledge.blocks.receptive_field import (
    ReceptiveField,
    ReceptiveFieldRow,
    effective_receptive_field,
    theoretical_receptive_field,
)
from knowledge.blocks.resampling import (
    icnr_,
    interpolate_bilinear,
    interpolate_nearest,
    pixel_shuffle,
    source_coordinates,
    transposed_conv_overlap,
)

__all__ = [
    "ELU",
    "PPM",
    "LeakyReLU",
    "PReLU",
    "PSPHead",
    "ReceptiveField",
    "ReceptiveFieldRow",
    "composite",
    "conv_norm_relu",
    "conv_output_size",
    "effective_receptive_field",
    "gaussian_gradient",
    "icnr_",
    "interpolate_bilinear",
    "interpolate_nearest",
    "make_trimap",
    "matting_grad",
    "matting_mse",
    "matting_sad",
    "pixel_shuffle",
    "same_padding",
    "source_coordinates",
    "theoretical_receptive_field",
    "transposed_conv_overlap",
]
