import torch
from torch import nn

from knowledge.blocks import conv_output_size

# The original U-Net (Ronneberger et al., 2015): unpadded ("valid") 3x3 convs
size, skips = 572, []
print("contracting path, two valid 3x3 convs per level:")
for level in range(5):
    before = size
    size = conv_output_size(conv_output_size(size, 3), 3)  # each conv loses 2 pixels
    print(f"  level {level}: {before} -> {size}")
    if level < 4:
        skips.append(size)
        size = conv_output_size(size, 2, 2, layer="maxpool")

print("expanding path, 2x2 up-convolution, crop the skip, two valid 3x3 convs:")
up = nn.ConvTranspose2d(1, 1, 2, stride=2, device="meta")  # doubles the size
for skip in reversed(skips):
    size = up(torch.empty(1, 1, size, size, device="meta")).shape[-1]
    crop = (skip - size) // 2
    print(f"  up to {size}, skip {skip} cropped by {crop} per side", end="")
    size = conv_output_size(conv_output_size(size, 3), 3)
    print(f", convs -> {size}")
print(f"input 572x572 -> output {size}x{size}: only the centre gets a prediction")
