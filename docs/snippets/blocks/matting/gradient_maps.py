import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from knowledge.blocks import gaussian_gradient, make_trimap
from knowledge.plotting import svg

H = W = 128
yy, xx = torch.meshgrid(torch.arange(H) - 63.5, torch.arange(W) - 63.5, indexing="ij")
r, theta = torch.hypot(yy, xx), torch.atan2(yy, xx)
alpha = ((40 + 4 * torch.sin(9 * theta) + 5 - r) / 10).clamp(0, 1)  # the same scene, (H, W)
mask = alpha > 0.5
unknown = make_trimap(mask, radius=8) == 128
blurred = F.avg_pool2d(mask.float()[None, None], 9, stride=1, padding=4, count_include_pad=False)


def amplitude(a: torch.Tensor) -> torch.Tensor:
    gx, gy = gaussian_gradient(a, sigma=1.4)
    return torch.hypot(gx, gy)


truth = amplitude(alpha)
maps = {
    "|grad| of the truth": truth,
    "|grad| of the hard mask": amplitude(mask.float()),
    "|grad| of the blurred mask": amplitude(blurred[0, 0]),
}
vmax = max(m.max().item() for m in maps.values())
fig, axes = plt.subplots(1, 4, figsize=(12, 3.1), layout="constrained")
for ax, (title, m) in zip(axes, maps.items(), strict=False):
    ax.imshow(m.numpy(), cmap="magma", vmin=0, vmax=vmax)
    ax.set_title(title, fontsize=9)
error = ((maps["|grad| of the hard mask"] - truth) ** 2) * unknown
ax = axes[3]
ax.imshow(error.numpy(), cmap="magma")
ax.set_title("hard mask: (|grad| - |grad true|)^2 on unknown", fontsize=9)
for ax in axes:
    ax.axis("off")
print(svg(fig, alt="Gaussian gradient amplitudes of the true alpha and two predictions"))
