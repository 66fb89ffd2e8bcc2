import matplotlib.pyplot as plt
import torch

from knowledge.blocks import composite, make_trimap
from knowledge.plotting import svg

torch.manual_seed(0)
H = W = 128
yy, xx = torch.meshgrid(torch.arange(H) - 63.5, torch.arange(W) - 63.5, indexing="ij")
r, theta = torch.hypot(yy, xx), torch.atan2(yy, xx)
# Ground-truth alpha: a disc with a wavy rim and a soft falloff 10 px wide
edge = 40 + 4 * torch.sin(9 * theta)
alpha = ((edge + 5 - r) / 10).clamp(0, 1)[None, None]  # (1, 1, H, W)

stripes = torch.stack([0.85 + 0.1 * torch.sin(0.6 * xx), 0.45 + 0.2 * torch.sin(0.6 * yy)])
fg = torch.cat([stripes, torch.full((1, H, W), 0.15)])[None]  # orange texture, (1, 3, H, W)
checker = 0.55 + 0.15 * ((xx // 16 + yy // 16) % 2)
bg = torch.stack([0.1 + 0.3 * (xx + 64) / W, torch.full((H, W), 0.35), checker])[None]
image = composite(alpha, fg, bg)

mask = alpha[0, 0] > 0.5  # what a segmentation model would be asked for
trimap = make_trimap(mask, radius=8)

fig, axes = plt.subplots(1, 6, figsize=(14, 2.9), layout="constrained")
panels = [
    (fg[0].permute(1, 2, 0), "foreground F"),
    (bg[0].permute(1, 2, 0), "background B"),
    (alpha[0, 0], "ground-truth alpha"),
    (mask.float(), "mask: alpha > 0.5"),
    (trimap / 255, "trimap, radius 8 px"),
    (image[0].permute(1, 2, 0), "I = alpha F + (1 - alpha) B"),
]
for ax, (img, title) in zip(axes, panels, strict=True):
    ax.imshow(img.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
print(svg(fig, alt="Synthetic foreground, background, alpha, mask, trimap and composite"))
