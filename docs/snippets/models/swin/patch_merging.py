import torch

from knowledge.models import PatchMerging

# A 4x4 map with one channel, channels-last (B, H, W, C); each value is 10 * row + column
grid = torch.arange(4)[:, None] * 10 + torch.arange(4)[None, :]
print(grid)
cat = PatchMerging.concat_neighbours(grid.view(1, 4, 4, 1))  # (1, 2, 2, 4)
for i in range(2):
    for j in range(2):
        print(f"merged token ({i}, {j}): [x0, x1, x2, x3] = {cat[0, i, j].tolist()}")

merge = PatchMerging(96)
print(merge)
x = torch.randn(1, 25, 33, 96)  # odd H and W: padded to 26 x 34 inside
print(f"{tuple(x.shape)} -> {tuple(merge(x).shape)}")
print(f"parameters: {sum(p.numel() for p in merge.parameters()):,} (LayerNorm(384) + 384 x 192)")
