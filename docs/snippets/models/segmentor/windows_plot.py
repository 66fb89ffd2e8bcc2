import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from knowledge.models import slide_windows
from knowledge.plotting import svg

H, W, crop, stride = 1024, 2048, 769, 513  # Cityscapes, mmseg's slide settings
windows = slide_windows(H, W, crop, stride)
# The count matrix is constant between window edges: count once per cell of that grid
ys = sorted({0, H} | {y for w in windows for y in w[:2]})
xs = sorted({0, W} | {x for w in windows for x in w[2:]})
count = torch.zeros(len(ys) - 1, len(xs) - 1)
for y1, y2, x1, x2 in windows:
    count[ys.index(y1) : ys.index(y2), xs.index(x1) : xs.index(x2)] += 1

fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 7.4), layout="constrained")
ax1.add_patch(Rectangle((0, 0), W, H, fc="0.93", ec="black", lw=1.5))
colors = plt.get_cmap("tab10").colors
for k, (y1, y2, x1, x2) in enumerate(windows):
    inset = 6 * (k % 4)  # small offsets keep overlapping outlines visible
    ax1.add_patch(
        Rectangle(
            (x1 + inset, y1 + inset),
            x2 - x1 - 2 * inset,
            y2 - y1 - 2 * inset,
            fill=False,
            ec=colors[k],
            lw=2,
            ls="-" if y1 == 0 else "--",  # second row dashed
        )
    )
    ax1.text(x1 + 20 + inset, y1 + 60 + inset, f"{k}", color=colors[k], fontsize=11)
ax1.set_xlim(-40, W + 40)
ax1.set_ylim(H + 40, -40)
ax1.set_aspect("equal")
ax1.set_title(
    f"{len(windows)} windows of {crop}x{crop}, stride {stride}: "
    f"the last row and column are shifted to end at the border",
    fontsize=10,
)
mesh = ax2.pcolormesh(xs, ys, count.numpy(), cmap="viridis", vmin=1, vmax=4)
ax2.set_ylim(H, 0)
ax2.set_aspect("equal")
ax2.set_title("count matrix: how many windows cover each pixel", fontsize=10)
fig.colorbar(mesh, ax=ax2, ticks=[1, 2, 3, 4], shrink=0.8)
print(
    svg(
        fig,
        alt="Eight 769 by 769 sliding windows over a 1024 by 2048 Cityscapes image, "
        "and the count matrix of overlaps, from 1 to 4",
    )
)
