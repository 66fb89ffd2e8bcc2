import torch
import torch.nn.functional as F
from torch import nn

from knowledge.blocks import pixel_shuffle

torch.manual_seed(0)
# One group of r^2 = 4 channels on a 2x2 grid; value = 10 * channel + pixel index
channel = torch.arange(4).view(1, 4, 1, 1)
pixel = torch.arange(4).view(1, 1, 2, 2)
x = 10 * channel + pixel  # (N, C*r^2, H, W) with C = 1, r = 2
y = pixel_shuffle(x, 2)  # (1, 1, 4, 4)
print("tens digit: input channel, units digit: input pixel")
print(y[0, 0])
print("same as F.pixel_shuffle:", torch.equal(y, F.pixel_shuffle(x, 2)))

# A sub-pixel upsampling layer: convolve at low resolution, then rearrange
layer = nn.Sequential(nn.Conv2d(64, 3 * 2 * 2, kernel_size=3, padding=1), nn.PixelShuffle(2))
features = torch.randn(1, 64, 32, 32)
with torch.no_grad():
    low = layer[0](features)
    print(
        "features",
        tuple(features.shape),
        "-> conv",
        tuple(low.shape),
        "-> shuffle",
        tuple(layer[1](low).shape),
    )
