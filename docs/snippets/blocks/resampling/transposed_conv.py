import torch
from torch import nn

from knowledge.blocks import transposed_conv_overlap

# Every weight 1, every input pixel 1: the output counts how many kernel copies overlap
up = nn.ConvTranspose2d(1, 1, kernel_size=3, stride=2, bias=False)
nn.init.ones_(up.weight)
with torch.no_grad():
    out = up(torch.ones(1, 1, 4, 4))
print("ConvTranspose2d(k=3, s=2):", tuple(out.shape[-2:]), "= ((4 - 1) * 2 + 3) per side")
print(out[0, 0].int())

counts = transposed_conv_overlap(4, kernel_size=3, stride=2)  # the same count per axis
print("1-D overlap:", counts.tolist())
print("2-D = outer product:", torch.equal(out[0, 0].long(), counts[:, None] * counts[None, :]))

# The usual x2 choice divides the kernel by the stride: even overlap away from the border
print("k=4, s=2, p=1:", transposed_conv_overlap(4, kernel_size=4, stride=2, padding=1).tolist())
