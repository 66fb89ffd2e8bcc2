"""Models: the Swin Transformer backbone, FCN, FPN, UPerNet and a config-built segmentor.

Everything here is public through ``knowledge.models``.
"""

from knowledge.models.fcn import FCN, FCNHead, VGG16Backbone, bilinear_kernel
from knowledge.models.fpn import FPN
from knowledge.models.segmentor import (
    EncoderDecoder,
    slide_windows,
    swin_t_upernet_config,
    swin_t_upernet_parameter_counts,
)
from knowledge.models.swin import (
    BasicLayer,
    DropPath,
    Mlp,
    PatchEmbed,
    PatchMerging,
    SwinTransformer,
    SwinTransformerBlock,
    WindowAttention,
    attention_macs,
    convert_official_checkpoint,
    relative_position_index,
    shift_regions,
    shifted_window_mask,
    window_partition,
    window_reverse,
)
from knowledge.models.upernet import UPerHead

__all__: list[str] = [
    "FCN",
    "FPN",
    "BasicLayer",
    "DropPath",
    "EncoderDecoder",
    "FCNHead",
    "Mlp",
    "PatchEmbed",
    "PatchMerging",
    "SwinTransformer",
    "SwinTransformerBlock",
    "UPerHead",
    "VGG16Backbone",
    "WindowAttention",
    "attention_macs",
    "bilinear_kernel",
    "convert_official_checkpoint",
    "relative_position_index",
    "shift_regions",
    "shifted_window_mask",
    "slide_windows",
    "swin_t_upernet_config",
    "swin_t_upernet_parameter_counts",
    "window_partition",
    "window_reverse",
]
