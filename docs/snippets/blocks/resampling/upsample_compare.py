import matplotlib.pyplot as plt
import torch
from matplotlib.colors import ListedColormap

from knowledge.blocks import interpolate_bilinear, interpolate_nearest
from knowledge.plotting import svg

# A 12x12 test image: a smooth ramp, a bright square and a one-pixel diagonal line
yy, xx = torch.meshgrid(torch.arange(12.0), torch.arange(12.0), indexing="ij")
image = 0.3 * xx / 11
image[2:5, 7:10] = 1.0
image[yy == xx] = 0.9
image = image[None, None]  # (H, W) -> (1, 1, H, W)
# A 12x12 label map with the classes {0, 2}: a disc of class 2 on background 0
label = torch.where((yy - 5.5) ** 2 + (xx - 5.5) ** 2 < 16, 2, 0)[None, None]

top = [
    (image, "input 12x12"),
    (interpolate_nearest(image, scale_factor=4), "nearest x4"),
    (interpolate_bilinear(image, scale_factor=4), "bilinear x4\nalign_corners=False"),
    (
        interpolate_bilinear(image, scale_factor=4, align_corners=True),
        "bilinear x4\nalign_corners=True",
    ),
]
blend = interpolate_bilinear(label.float(), scale_factor=4)
bottom = [
    (label, "label map {0, 2}"),
    (interpolate_nearest(label, scale_factor=4), "nearest x4: {0, 2}"),
    (blend, "bilinear x4: values in [0, 2]"),
    (blend.round(), "bilinear x4, rounded:\nclass 1 appears (red)"),
]
classes = ListedColormap(["#1f3b73", "#d62728", "#f2c12e"])  # 0 navy, 1 red, 2 yellow
fig, axes = plt.subplots(2, 4, figsize=(11, 6), subplot_kw={"xticks": [], "yticks": []})
fig.subplots_adjust(left=0, right=1, bottom=0, top=0.92, wspace=0.06, hspace=0.22)
for ax, (img, title) in zip(axes[0], top, strict=True):
    ax.imshow(img[0, 0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
for ax, (img, title) in zip(axes[1], bottom, strict=True):
    continuous = title.startswith("bilinear x4: values")
    cmap = "cividis" if continuous else classes
    ax.imshow(img[0, 0].float().numpy(), cmap=cmap, vmin=0, vmax=2, interpolation="nearest")
    ax.set_title(title, fontsize=9)
for ax in axes.flat:
    ax.axis("off")
print(
    svg(
        fig,
        alt="A 12x12 image and label map upsampled by 4 with nearest and bilinear interpolation",
    )
)
