import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from knowledge.blocks import interpolate_nearest
from knowledge.plotting import svg

# A zone plate: rings whose frequency grows from the centre (0) to the corners (0.49 cycles/px)
n = 96
yy, xx = torch.meshgrid(torch.arange(n) - n / 2, torch.arange(n) - n / 2, indexing="ij")
image = (0.5 + 0.5 * torch.cos(torch.pi * (xx**2 + yy**2) / 140))[None, None]  # (1, 1, 96, 96)

panels = [
    (image, "input"),
    (interpolate_nearest(image, scale_factor=0.25), "nearest (every 4th pixel)"),
    (F.interpolate(image, scale_factor=0.25, mode="bilinear"), "bilinear"),
    (F.avg_pool2d(image, 4), "average pooling 4x4"),
    (
        F.interpolate(image, scale_factor=0.25, mode="bilinear", antialias=True),
        "bilinear, antialias",
    ),
]
fig, axes = plt.subplots(1, 5, figsize=(12.5, 2.9), subplot_kw={"xticks": [], "yticks": []})
fig.subplots_adjust(left=0, right=1, bottom=0, top=0.82, wspace=0.08)
for ax, (img, title) in zip(axes, panels, strict=True):
    ax.imshow(img[0, 0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(f"{title}\n{img.shape[-2]}x{img.shape[-1]}", fontsize=9)
    ax.axis("off")
print(
    svg(
        fig,
        alt="A zone plate downsampled by 4 in four ways, with and without antialiasing",
    )
)
