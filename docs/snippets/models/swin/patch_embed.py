import torch
from torch import nn

from knowledge.models import PatchEmbed

torch.manual_seed(0)
embed = PatchEmbed(patch_size=4, in_channels=3, embed_dim=96, norm_layer=nn.LayerNorm)
print(embed.proj)

for h, w in [(512, 512), (375, 500)]:
    out = embed(torch.randn(1, 3, h, w))
    padded = (-(-h // 4) * 4, -(-w // 4) * 4)  # ceil to a multiple of 4
    print(f"input {h}x{w} -> padded {padded[0]}x{padded[1]} -> {tuple(out.shape)}")

# The convolution is one Linear(4 * 4 * 3 -> 96) applied to every flattened patch
x = torch.randn(1, 3, 8, 8)
patch = x[0, :, 0:4, 4:8].reshape(-1)  # the patch in row 0, column 1: 48 numbers
by_hand = embed.proj.weight.reshape(96, 48) @ patch + embed.proj.bias
print(
    "conv output at (0, 1) == W @ patch + b:",
    torch.allclose(embed.proj(x)[0, :, 0, 1], by_hand, atol=1e-5),
)
