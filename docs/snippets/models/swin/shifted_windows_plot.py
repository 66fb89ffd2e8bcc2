import matplotlib.pyplot as plt
import torch

from knowledge.models import shifted_window_mask
from knowledge.plotting import svg

H = W = 8  # tokens
M, s = 4, 2  # window size, shift
band = lambda i: 0 if i < s else (1 if i < s + M else 2)  # noqa: E731
# Shifted windows on the original map: 3 x 3 = 9 windows, named A..I
letter = [["ABCDEFGHI"[3 * band(i) + band(j)] for j in range(W)] for i in range(H)]
# After torch.roll by (-s, -s), position (i, j) holds the token from ((i + s) % H, (j + s) % W)
rolled = [[letter[(i + s) % H][(j + s) % W] for j in range(W)] for i in range(H)]
colors = plt.get_cmap("tab10")


def draw(ax, grid, lines, title):
    ids = torch.tensor([["ABCDEFGHI".index(c) for c in row] for row in grid])
    ax.imshow(ids.numpy(), cmap=colors, vmin=0, vmax=9, interpolation="nearest")
    for i in range(H):
        for j in range(W):
            ax.text(j, i, grid[i][j], ha="center", va="center", fontsize=9)
    for p in lines:
        ax.axhline(p - 0.5, color="black", lw=2.5)
        ax.axvline(p - 0.5, color="black", lw=2.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)


mask = shifted_window_mask(H, W, M, s)  # (4 windows, 16, 16)
mosaic = torch.cat([torch.cat([mask[0], mask[1]], 1), torch.cat([mask[2], mask[3]], 1)], 0)
fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), layout="constrained")
draw(axes[0], letter, [s, s + M], "Shifted windows: 9 windows A..I")
draw(axes[1], rolled, [M], "After torch.roll by (-s, -s): 4 windows")
axes[2].imshow(mosaic.numpy(), cmap="gray", vmin=-100, vmax=0, interpolation="nearest")
axes[2].axhline(15.5, color="tab:red", lw=2)
axes[2].axvline(15.5, color="tab:red", lw=2)
axes[2].set_title("Masks of the 4 windows (black: -100)", fontsize=10)
axes[2].set(xlabel="key token", ylabel="query token")
print(svg(fig, alt="Shifted windows before and after the cyclic shift, and the attention masks"))
