import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from knowledge.blocks import source_coordinates
from knowledge.plotting import svg

# 4 input pixels -> 8 output pixels, drawn in input-pixel units (pixel i covers [i-0.5, i+0.5])
rows = [
    ("input, 4 px", [float(i) for i in range(4)], 1.0, "#444444"),
    ("align_corners=False", [(d + 0.5) / 2 - 0.5 for d in range(8)], 0.5, "#1f77b4"),
    ("align_corners=True", source_coordinates(4, 8, align_corners=True).tolist(), 3 / 7, "#d62728"),
]
fig, ax = plt.subplots(figsize=(9, 2.6))
for level, (name, centres, width, color) in enumerate(rows):
    y = -level
    for c in centres:
        ax.add_patch(Rectangle((c - width / 2, y - 0.3), width, 0.6, fill=False, ec=color, lw=1))
    ax.plot(centres, [y] * len(centres), "o", color=color, ms=4)
    ax.text(-0.75, y, name, ha="right", va="center", fontsize=9, color=color)
for edge in (-0.5, 3.5):
    ax.axvline(edge, color="#999999", ls=":", lw=1)
for centre in (0.0, 3.0):
    ax.axvline(centre, color="#d62728", ls="--", lw=0.8, alpha=0.6)
ax.set_xlim(-2.6, 3.8)
ax.set_ylim(-2.6, 0.6)
ax.set_yticks([])
ax.set_xticks(range(4))
ax.set_xlabel("position in input pixels (dotted: image edges, dashed: corner pixel centres)")
for side in ("left", "right", "top"):
    ax.spines[side].set_visible(False)
print(
    svg(fig, alt="Output sample positions of a 4 to 8 pixel resize for both align_corners settings")
)
