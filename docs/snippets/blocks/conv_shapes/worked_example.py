import torch
from torch import nn

from knowledge.blocks import conv_output_size

# ResNet's first layer: a 7x7 convolution, stride 2, padding 3, on a 224x224 image
H, k, s, p, d = 224, 7, 2, 3, 1
k_eff = d * (k - 1) + 1
print(f"k_eff = d*(k-1)+1 = {d}*({k}-1)+1 = {k_eff}")
print(f"H_out = floor(({H} + 2*{p} - {k_eff}) / {s}) + 1 = floor({H + 2 * p - k_eff}/{s}) + 1")
print(f"      = {(H + 2 * p - k_eff) // s + 1}")
print("conv_output_size:", conv_output_size(H, k, s, p, d))

# The real layer on the "meta" device: shapes are computed, no memory, no arithmetic
conv = nn.Conv2d(3, 64, k, stride=s, padding=p, device="meta")
print("nn.Conv2d:       ", tuple(conv(torch.empty(1, 3, H, H, device="meta")).shape))
