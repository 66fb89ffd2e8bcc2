import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Patch

from knowledge.plotting import svg
from knowledge.tutorial import CLASSES, colorize, render_shapes

images, labels = render_shapes(range(8), seed=0)  # the first 8 training images

fig, axes = plt.subplots(2, 8, figsize=(12, 3.6), layout="constrained")
for i in range(8):
    axes[0, i].imshow(images[i].permute(1, 2, 0).numpy())  # (3, H, W) -> (H, W, 3)
    axes[1, i].imshow(colorize(labels[i]).numpy())
    axes[0, i].set_title(f"image {i}", fontsize=9)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_ylabel("input")
axes[1, 0].set_ylabel("label")

# one legend entry per class, in the colours that colorize() uses
colors = colorize(torch.arange(len(CLASSES))).float() / 255
handles = [Patch(color=colors[c].tolist(), label=name) for c, name in enumerate(CLASSES)]
handles.append(Patch(facecolor="white", edgecolor="gray", label="ignore (255)"))
fig.legend(handles=handles, loc="outside lower center", ncol=6, frameon=False)
print(svg(fig, alt="Eight synthetic shape images and their label maps"))
