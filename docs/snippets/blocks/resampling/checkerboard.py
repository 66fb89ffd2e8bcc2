import matplotlib.pyplot as plt
import torch
from torch import nn

from knowledge.blocks import icnr_
from knowledge.plotting import svg

torch.manual_seed(0)
flat = torch.ones(1, 1, 10, 10)  # a constant input: a good upsampler keeps it constant


def transposed(kernel_size, padding, weight="ones"):
    layer = nn.ConvTranspose2d(1, 1, kernel_size, stride=2, padding=padding, bias=False)
    if weight == "ones":
        nn.init.ones_(layer.weight)
    return layer(flat)


def sub_pixel(icnr):
    conv = nn.Conv2d(1, 4, 3, padding=1, padding_mode="replicate", bias=False)  # 4 = 2 * 2
    if icnr:
        icnr_(conv.weight.data, 2)
    return nn.PixelShuffle(2)(conv(flat))


with torch.no_grad():
    panels = [
        (transposed(3, 0), "ConvTranspose k=3 s=2\nweights 1"),
        (transposed(4, 1), "ConvTranspose k=4 s=2 p=1\nweights 1"),
        (transposed(4, 1, weight="random"), "ConvTranspose k=4 s=2 p=1\nrandom weights"),
        (sub_pixel(icnr=False), "conv + PixelShuffle(2)\nrandom init"),
        (sub_pixel(icnr=True), "conv + PixelShuffle(2)\nICNR init"),
    ]
fig, axes = plt.subplots(1, 5, figsize=(12.5, 3.1), subplot_kw={"xticks": [], "yticks": []})
fig.subplots_adjust(left=0, right=1, bottom=0, top=0.8, wspace=0.1)
for ax, (out, title) in zip(axes, panels, strict=True):
    img = out[0, 0]
    lo, hi = img.min().item(), img.max().item()
    if hi - lo < 1e-6:  # a constant image: show it mid-scale instead of black
        lo, hi = lo - 1, hi + 1
    ax.imshow(img.numpy(), cmap="magma", vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_title(
        f"{title}\n{tuple(img.shape)}, min {img.min():.2f}, max {img.max():.2f}", fontsize=8
    )
    ax.axis("off")
print(
    svg(
        fig, alt="Outputs of transposed convolutions and sub-pixel convolutions on a constant input"
    )
)
