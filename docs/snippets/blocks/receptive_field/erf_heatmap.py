import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle
from torch import nn

from knowledge.blocks import effective_receptive_field, theoretical_receptive_field
from knowledge.plotting import svg

torch.manual_seed(0)
depth, size = 10, 41  # ten 3x3 convs: theoretical field 21x21, centred in a 41x41 input


def conv_stack(channels, relu):
    layers = []
    for i in range(depth):
        c_in, c_out = (1 if i == 0 else channels), (1 if i == depth - 1 else channels)
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1)] + ([nn.ReLU()] if relu else [])
    return nn.Sequential(*layers)


uniform = conv_stack(1, relu=False)  # every weight equal: the textbook picture
with torch.no_grad():
    for m in uniform:
        m.weight.fill_(1.0)
        m.bias.zero_()
x = torch.zeros(1, 1, size, size)
maps = {"uniform weights, linear": effective_receptive_field(uniform, x)}
relu = conv_stack(4, relu=True)  # PyTorch's default random init, with ReLU
maps["random init + ReLU (8 random inputs)"] = effective_receptive_field(
    relu, torch.randn(8, 1, size, size)
)
maps = {title: (erf / erf.max()).numpy() for title, erf in maps.items()}  # scaled to [0, 1]

rf = theoretical_receptive_field(uniform)
(lo, hi), _ = rf.region(size // 2)
fig, axes = plt.subplots(1, 3, figsize=(11, 3.5), layout="constrained")
for ax, (title, erf) in zip(axes, maps.items(), strict=False):
    ax.imshow(erf, cmap="magma", vmin=0, vmax=1)
    ax.add_patch(Rectangle((lo - 0.5, lo - 0.5), rf.size[1], rf.size[0], fill=False, ec="cyan"))
    ax.set_title(title, fontsize=9)
    ax.axis("off")
# Share of the gradient mass inside a centred square, against the square's share of the area
ax = axes[2]
for title, erf in maps.items():
    c = size // 2
    mass = [erf[c - h : c + h + 1, c - h : c + h + 1].sum() / erf.sum() for h in range(11)]
    ax.plot([(2 * h + 1) / rf.size[0] for h in range(11)], mass, marker="o", ms=3, label=title)
side = np.linspace(0, 1, 21)
ax.plot(side, side**2, ls=":", color="gray", label="if spread evenly over the square")
ax.set(xlabel="side of centred square / theoretical field", ylabel="share of gradient mass")
ax.set_title(f"{depth} layers: theoretical field {rf.size[0]}x{rf.size[1]} (cyan)", fontsize=9)
ax.legend(fontsize=7)
print(svg(fig, alt="Effective receptive field heatmaps inside the theoretical square"))
