import itertools

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from knowledge.plotting import svg

# The backbone on top (box height ~ resolution), the three heads below, left to right.
stages = [
    ("image", 1),
    ("pool1", 2),
    ("pool2", 4),
    ("pool3", 8),
    ("pool4", 16),
    ("pool5", 32),
    ("fc6-fc7", 32),
]
xs = {name: 1.25 * i for i, (name, _) in enumerate(stages)}
TOP, L32, L16, L8, OUT = 4.6, 2.55, 1.55, 0.55, 9.6
heights = {name: 1.9 / stride**0.35 for name, stride in stages}

fig, ax = plt.subplots(figsize=(10, 4.6), layout="constrained")
for name, stride in stages:
    h = heights[name]
    ax.add_patch(
        FancyBboxPatch(
            (xs[name] - 0.35, TOP - h / 2),
            0.7,
            h,
            boxstyle="round,pad=0.02",
            fc="#dbe7f5",
            ec="#3b6ea5",
        )
    )
    ax.text(xs[name], TOP + 1.15, name, ha="center", fontsize=9)
    ax.text(xs[name], TOP - h / 2 - 0.3, f"1/{stride}", ha="center", fontsize=8, color="0.35")
for a, b in itertools.pairwise(stages):
    ax.annotate(
        "",
        (xs[b[0]] - 0.37, TOP),
        (xs[a[0]] + 0.37, TOP),
        arrowprops=dict(arrowstyle="->", color="0.4"),
    )


def arrow(p, q, text="", color="0.2", dx=0.08, dy=0.12, ha="left"):
    ax.annotate("", q, p, arrowprops=dict(arrowstyle="->", color=color, lw=1.4))
    if text:
        ax.text(
            (p[0] + q[0]) / 2 + dx, (p[1] + q[1]) / 2 + dy, text, fontsize=8, color=color, ha=ha
        )


def node(x, y, text, color):
    ax.text(
        x,
        y,
        text,
        ha="center",
        va="center",
        fontsize=9,
        bbox=dict(boxstyle="round,pad=0.3", fc="white", ec=color),
    )


fc7, p4, p3 = xs["fc6-fc7"], xs["pool4"], xs["pool3"]


def below(name):  # just under a box's stride label
    return TOP - heights[name] / 2 - 0.4


c32, c16, c8 = "#b8501f", "#2a7f3f", "#6a3d9a"
# FCN-32s: score fc7, upsample x32
node(fc7, L32, "score_fr", c32)
arrow((fc7, below("fc6-fc7")), (fc7, L32 + 0.2), "1x1", c32)
node(OUT, L32, "FCN-32s", c32)
arrow((fc7 + 0.5, L32), (OUT - 0.6, L32), "upscore x32", c32, dx=0, ha="center")
# FCN-16s: x2 of the fc7 scores + scores of pool4, upsample x16
node(p4 + 0.55, L16, "+", c16)
arrow((fc7, L32 - 0.2), (p4 + 0.7, L16 + 0.1), "upscore2 x2", c16, dx=0.2, dy=0.05)
arrow(
    (p4, below("pool4")),
    (p4 + 0.45, L16 + 0.15),
    "score_pool4 1x1",
    c16,
    dx=-0.1,
    dy=0.1,
    ha="right",
)
node(OUT, L16, "FCN-16s", c16)
arrow((p4 + 0.7, L16), (OUT - 0.6, L16), "upscore16 x16", c16, dx=0.6, ha="center")
# FCN-8s: x2 of the fused 16s scores + scores of pool3, upsample x8
node(p3 + 0.55, L8, "+", c8)
arrow((p4 + 0.45, L16 - 0.15), (p3 + 0.7, L8 + 0.1), "upscore_pool4 x2", c8, dx=0.15, dy=-0.05)
arrow(
    (p3, below("pool3")), (p3 + 0.45, L8 + 0.15), "score_pool3 1x1", c8, dx=-0.1, dy=0.1, ha="right"
)
node(OUT, L8, "FCN-8s", c8)
arrow((p3 + 0.7, L8), (OUT - 0.6, L8), "upscore8 x8", c8, dx=1.5, ha="center")

ax.set_xlim(-0.6, OUT + 0.8)
ax.set_ylim(0.2, TOP + 1.5)
ax.axis("off")
print(
    svg(
        fig,
        alt="FCN skip architecture: VGG-16 stages on top; FCN-32s upsamples the fc7 "
        "scores by 32, FCN-16s adds pool4 scores before upsampling by 16, FCN-8s also adds "
        "pool3 scores and upsamples by 8",
    )
)
