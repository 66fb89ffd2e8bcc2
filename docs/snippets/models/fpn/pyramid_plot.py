import itertools

import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from knowledge.plotting import svg

fig, ax = plt.subplots(figsize=(9, 5.2), layout="constrained")
levels = [2, 3, 4, 5]
ys = {lvl: 1.35 * (lvl - 2) for lvl in levels}
size = {lvl: 1.1 / 1.3 ** (lvl - 2) for lvl in levels}
XC, XADD, XP = 0.0, 3.2, 5.6  # columns: backbone, merge, outputs


def box(x, y, s, text, fc, ec):
    ax.add_patch(Rectangle((x - s / 2, y - s / 2), s, s, fc=fc, ec=ec))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def arrow(p, q, text="", color="0.25", offset=(0.0, 0.12), ha="center"):
    ax.annotate("", q, p, arrowprops=dict(arrowstyle="->", color=color, lw=1.3))
    if text:
        mid = ((p[0] + q[0]) / 2 + offset[0], (p[1] + q[1]) / 2 + offset[1])
        ax.text(*mid, text, ha=ha, fontsize=8, color=color)


for lvl in levels:
    y, s = ys[lvl], size[lvl]
    box(XC, y, s, f"C{lvl}\n1/{2**lvl}", "#dbe7f5", "#3b6ea5")
    ax.text(
        XADD,
        y,
        "+" if lvl < 5 else "M5",
        ha="center",
        va="center",
        fontsize=10,
        bbox=dict(boxstyle="circle" if lvl < 5 else "round", fc="white", ec="#2a7f3f"),
    )
    box(XP, y, s, f"P{lvl}", "#e3f1e6", "#2a7f3f")
    arrow((XC + s / 2 + 0.05, y), (XADD - 0.25, y), "lateral 1x1", "#3b6ea5")
    arrow((XADD + 0.25, y), (XP - s / 2 - 0.05, y), "3x3", "#2a7f3f")
    if lvl < 5:  # top-down: the merged map above, upsampled to this level's size
        arrow(
            (XADD, ys[lvl + 1] - 0.25),
            (XADD, y + 0.25),
            "nearest, to size",
            "#b8501f",
            offset=(0.1, -0.05),
            ha="left",
        )
for lo, hi in itertools.pairwise(levels):  # bottom-up pathway of the backbone
    arrow((XC, ys[lo] + size[lo] / 2 + 0.03), (XC, ys[hi] - size[hi] / 2 - 0.03), "", "0.5")
y6 = ys[5] + 1.0
box(XP, y6, size[5] / 1.3, "P6", "#e3f1e6", "#2a7f3f")
arrow(
    (XP, ys[5] + size[5] / 2 + 0.03),
    (XP, y6 - size[5] / 2.6 - 0.03),
    "max pool k1 s2",
    "#2a7f3f",
    offset=(0.1, -0.05),
    ha="left",
)
ax.text(XC, -1.0, "bottom-up (backbone)", ha="center", fontsize=9)
ax.text(XADD, -1.0, "top-down + laterals", ha="center", fontsize=9)
ax.text(XP, -1.0, "outputs, all 256 channels", ha="center", fontsize=9)
ax.set_xlim(-1.0, 7.0)
ax.set_ylim(-1.3, y6 + 0.6)
ax.set_aspect("equal")
ax.axis("off")
print(
    svg(
        fig,
        alt="FPN: backbone maps C2 to C5 get 1x1 lateral convolutions; from the top, "
        "each merged map is upsampled by nearest neighbour to the size of the level below and "
        "added; 3x3 convolutions give P2 to P5, and a stride-2 max pool on P5 gives P6",
    )
)
