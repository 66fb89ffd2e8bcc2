import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from knowledge.detection import AnchorGenerator
from knowledge.plotting import svg

sizes, ratios = (32, 64, 128), (0.5, 1.0, 2.0)
gen = AnchorGenerator(sizes=(sizes,), aspect_ratios=(ratios,))
images = torch.zeros(1, 3, 256, 256)
anchors = gen(images, [torch.zeros(1, 8, 8, 8)])[0].reshape(8, 8, 9, 4)  # stride 32

colors = {32: "tab:blue", 64: "tab:orange", 128: "tab:green"}
styles = {0.5: "-", 1.0: "--", 2.0: ":"}
fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), layout="constrained")

ax = axes[0]  # the 9 cell anchors of one location
for k, (x1, y1, x2, y2) in enumerate(gen.cell_anchors[0].tolist()):
    size, ratio = sizes[k % 3], ratios[k // 3]
    label = f"size {size}, h/w {ratio}"
    ax.add_patch(
        Rectangle(
            (x1, y1),
            x2 - x1,
            y2 - y1,
            fill=False,
            lw=1.5,
            color=colors[size],
            ls=styles[ratio],
            label=label,
        )
    )
ax.plot(0, 0, "k+", ms=10)
ax.set(xlim=(-100, 100), ylim=(100, -100), aspect="equal", title="9 anchors at one location")
ax.legend(fontsize=7, loc="lower left", ncol=3, bbox_to_anchor=(0.0, -0.32))

ax = axes[1]  # where the anchors of an 8 x 8, stride-32 map sit on a 256 x 256 image
centres = (anchors[..., :2] + anchors[..., 2:]) / 2
ax.plot(
    centres[..., 0, 0].flatten(), centres[..., 0, 1].flatten(), "k.", ms=4, label="anchor centres"
)
ax.plot(4 * 32 + 16, 3 * 32 + 16, "rx", ms=7, label="centre of feature cell (3, 4)")
for x1, y1, x2, y2 in anchors[3, 4].tolist():
    size = round(((x2 - x1) * (y2 - y1)) ** 0.5 / 32) * 32
    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1.2, color=colors[size]))
for v in range(0, 257, 32):
    ax.axhline(v, color="0.85", lw=0.6, zorder=0)
    ax.axvline(v, color="0.85", lw=0.6, zorder=0)
ax.add_patch(Rectangle((0, 0), 256, 256, fill=False, color="k", lw=1))
ax.set(xlim=(-70, 300), ylim=(300, -70), aspect="equal")
ax.set_title("Stride 32: centres at (32 j, 32 i); the anchors of location (3, 4)", fontsize=9)
ax.legend(fontsize=7, loc="lower left", ncol=2, bbox_to_anchor=(0.0, -0.2))
print(svg(fig, alt="Nine anchors at one location, and the anchor centres of a stride-32 grid"))
