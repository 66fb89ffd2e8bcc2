import itertools

import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from knowledge.plotting import svg

fig, ax = plt.subplots(figsize=(10, 5.4), layout="constrained")
levels = [1, 2, 3, 4]
ys = {lvl: 1.35 * (lvl - 1) for lvl in levels}
size = {lvl: 1.1 / 1.3 ** (lvl - 1) for lvl in levels}
XC, XADD, XF, XCAT = 0.0, 3.4, 5.5, 7.6
BLUE, GREEN, ORANGE, PURPLE = "#3b6ea5", "#2a7f3f", "#b8501f", "#6a3d9a"


def box(x, y, w, h, text, fc, ec, fontsize=9):
    ax.add_patch(Rectangle((x - w / 2, y - h / 2), w, h, fc=fc, ec=ec))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def arrow(p, q, text="", color="0.25", offset=(0.0, 0.12), ha="center", style="-"):
    props = dict(arrowstyle="->", color=color, lw=1.3, linestyle=style)
    ax.annotate("", q, p, arrowprops=props)
    if text:
        mid = ((p[0] + q[0]) / 2 + offset[0], (p[1] + q[1]) / 2 + offset[1])
        ax.text(*mid, text, ha=ha, fontsize=8, color=color)


for lvl in levels:
    y, s = ys[lvl], size[lvl]
    box(XC, y, s, s, f"C{lvl}\n1/{2 ** (lvl + 1)}", "#dbe7f5", BLUE)
    box(XF, y, s, s, f"F{lvl}", "#e3f1e6", GREEN)
    if lvl < 4:
        ax.text(
            XADD,
            y,
            "+",
            ha="center",
            va="center",
            fontsize=10,
            bbox=dict(boxstyle="circle", fc="white", ec=GREEN),
        )
        arrow((XC + s / 2 + 0.05, y), (XADD - 0.25, y), "1. lateral 1x1", BLUE)
        arrow((XADD + 0.25, y), (XF - s / 2 - 0.05, y), "3. 3x3", GREEN)
        arrow(
            (XADD, ys[lvl + 1] - 0.3),
            (XADD, y + 0.25),
            "2. bilinear, to size",
            ORANGE,
            offset=(0.1, -0.05),
            ha="left",
        )
    arrow((XF + s / 2 + 0.05, y), (XCAT - 0.45, 2.0), "", PURPLE)
for lo, hi in itertools.pairwise(levels):
    arrow((XC, ys[lo] + size[lo] / 2 + 0.03), (XC, ys[hi] - size[hi] / 2 - 0.03), "", "0.5")
# the top level: PPM and its bottleneck replace the lateral; no 3x3 FPN conv afterwards
y4 = ys[4]
box(XADD - 1.45, y4, 1.0, 0.5, "PPM\n(1,2,3,6)", "#fbe5d6", ORANGE, fontsize=8)
arrow((XC + size[4] / 2 + 0.05, y4), (XADD - 1.97, y4), "", BLUE)
ax.text(
    XADD,
    y4,
    "L4",
    ha="center",
    va="center",
    fontsize=9,
    bbox=dict(boxstyle="round", fc="white", ec=GREEN),
)
arrow((XADD - 0.93, y4), (XADD - 0.25, y4), "1. 3x3", ORANGE)
arrow((XADD + 0.25, y4), (XF - size[4] / 2 - 0.05, y4), "F4 = L4", GREEN, style="--")
box(XCAT, 2.0, 0.8, 1.4, "4. resize\nto 1/4,\nconcat", "#ece2f4", PURPLE, fontsize=8)
box(XCAT + 1.5, 2.0, 0.95, 0.8, "5. 3x3\nfusion,\nconv_seg", "#ece2f4", PURPLE, fontsize=8)
arrow((XCAT + 0.42, 2.0), (XCAT + 1.0, 2.0), "", PURPLE)
ax.text(XCAT + 1.5, 1.3, "logits at 1/4", ha="center", fontsize=8)
ax.set_xlim(-0.8, XCAT + 2.2)
ax.set_ylim(-0.8, y4 + 0.8)
ax.set_aspect("equal")
ax.axis("off")
print(
    svg(
        fig,
        alt="UPerNet head: a PPM on C4 and 1x1 laterals on C1 to C3; a bilinear top-down "
        "pathway adds each level to the one below; 3x3 convolutions give F1 to F3 while F4 is "
        "the PPM feature; all are resized to 1/4, concatenated, fused and classified",
    )
)
