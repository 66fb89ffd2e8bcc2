import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from knowledge.plotting import svg

# Feature cell (i, j) covers [j, j+1) x [i, i+1); the box of the worked example, on the map
x1, y1, x2, y2 = 1.5, 1.5, 5.0, 4.5
bins = 2
fig, axes = plt.subplots(1, 2, figsize=(10, 4.8), layout="constrained")
for ax in axes:
    for v in range(7):
        ax.axhline(v, color="0.8", lw=0.8, zorder=0)
        ax.axvline(v, color="0.8", lw=0.8, zorder=0)
    box = Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color="k", lw=2, ls="--", zorder=3)
    ax.add_patch(box)
    ax.set(xlim=(0, 6), ylim=(6, 0), aspect="equal", xticks=range(7), yticks=range(7))

# RoI Pooling: the box snaps to whole cells (C round, ends included), bins by floor/ceil
ax = axes[0]
sx, sy, ex, ey = 2, 2, 5, 5  # round(1.5), round(1.5), round(5.0), round(4.5)
ax.add_patch(Rectangle((sx, sy), ex - sx + 1, ey - sy + 1, color="tab:red", alpha=0.15))
for k in range(1, bins):  # inner bin edges: floor/ceil of k * 4 / 2 cells after the start
    bx, by = sx + k * (ex - sx + 1) / bins, sy + k * (ey - sy + 1) / bins
    ax.plot([bx, bx], [sy, ey + 1], color="tab:red", lw=2)
    ax.plot([sx, ex + 1], [by, by], color="tab:red", lw=2)
ax.add_patch(Rectangle((sx, sy), ex - sx + 1, ey - sy + 1, fill=False, color="tab:red", lw=2))
ax.set_title("RoI Pooling: box snapped to cells 2..5, max per bin", fontsize=10)

# RoI Align (aligned=True): exact bins, 2 x 2 sample points each, bilinear from 4 centres
ax = axes[1]
bw, bh = (x2 - x1) / bins, (y2 - y1) / bins
for i in range(bins):
    for j in range(bins):
        ax.add_patch(
            Rectangle((x1 + j * bw, y1 + i * bh), bw, bh, fill=False, color="tab:blue", lw=2)
        )
        for iy in range(2):
            for ix in range(2):
                px, py = x1 + (j + (ix + 0.5) / 2) * bw, y1 + (i + (iy + 0.5) / 2) * bh
                ax.plot(px, py, "o", color="tab:blue", ms=5)
px, py = x1 + 0.25 * bw, y1 + 0.25 * bh  # the first sample point and its 4 neighbours
for cx in (1.5, 2.5):
    for cy in (1.5, 2.5):
        ax.plot(cx, cy, "s", color="tab:orange", ms=5)
        ax.plot([px, cx], [py, cy], color="tab:orange", lw=0.8)
ax.set_title("RoI Align: no rounding; samples read from the 4 nearest cell centres", fontsize=10)
print(
    svg(fig, alt="RoI Pooling snaps the box to whole cells; RoI Align samples it at exact points")
)
