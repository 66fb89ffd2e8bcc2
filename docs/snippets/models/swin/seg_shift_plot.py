import matplotlib.pyplot as plt
import torch

from knowledge.models import shift_regions, shifted_window_mask
from knowledge.plotting import svg

fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), layout="constrained")
colors = plt.get_cmap("tab10")

# Swin-T stage 3 at 224 x 224: 7 x 7 tokens, one 7 x 7 window, still shifted by 3
regions = shift_regions(7, 7, 7, 3)
axes[0].imshow(regions.numpy(), cmap=colors, vmin=0, vmax=9, interpolation="nearest")
for i in range(7):
    for j in range(7):
        axes[0].text(j, i, int(regions[i, j]), ha="center", va="center", fontsize=9)
axes[0].set_title("7x7 map, one window, shift 3: 4 regions", fontsize=10)
mask = shifted_window_mask(7, 7, 7, 3)[0]
axes[1].imshow(mask.numpy(), cmap="gray", vmin=-100, vmax=0, interpolation="nearest")
axes[1].set_title(f"Its 49x49 mask: {int((mask == 0).sum())} of 2401 pairs kept", fontsize=10)
axes[1].set(xlabel="key token", ylabel="query token")

# A 10 x 13 map with M = 7: padded to 14 x 14 first, then rolled by (-3, -3)
H, W, M, s = 10, 13, 7, 3
regions = shift_regions(H, W, M, s)
real = torch.zeros(14, 14, dtype=torch.bool)
real[:H, :W] = True
real = torch.roll(real, (-s, -s), dims=(0, 1))  # where the real tokens are after the shift
axes[2].imshow(regions.numpy(), cmap=colors, vmin=0, vmax=9, interpolation="nearest")
for i in range(14):
    for j in range(14):
        if not real[i, j]:  # a padding token (zeros)
            axes[2].text(j, i, "0", ha="center", va="center", fontsize=8, color="white")
for p in (M,):
    axes[2].axhline(p - 0.5, color="black", lw=2.5)
    axes[2].axvline(p - 0.5, color="black", lw=2.5)
axes[2].set_title("10x13 padded to 14x14, then shifted ('0': padding)", fontsize=10)
for ax in (axes[0], axes[2]):
    ax.set_xticks([])
    ax.set_yticks([])
print(svg(fig, alt="Shift regions of a 7 by 7 stage with its mask, and of a padded 10 by 13 stage"))
