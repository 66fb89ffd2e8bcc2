import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from knowledge.plotting import svg

# A synthetic 60x60 street scene in RGB: sky, buildings, road, and a red car on the left
H = W = 60
yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
img = torch.zeros(3, H, W)
img[:] = torch.tensor([0.55, 0.75, 0.95])[:, None, None]  # sky
skyline = 22 + 6 * ((xx // 12) % 2)  # two building heights
img[:, (yy >= skyline) & (yy < 38)] = torch.tensor([0.45, 0.42, 0.40])[:, None]
img[:, yy >= 38] = torch.tensor([0.30, 0.30, 0.32])[:, None]  # road
img[:, (yy >= 40) & (yy < 50) & (xx >= 6) & (xx < 24)] = torch.tensor([0.85, 0.15, 0.15])[:, None]

x = img[None]  # (1, 3, H, W)
panels = [("input", img)]
for s in (1, 2, 3, 6):
    pooled = F.adaptive_avg_pool2d(x, s)  # (1, 3, s, s)
    up = F.interpolate(pooled, size=(H, W), mode="bilinear", align_corners=False)
    panels.append((f"pool {s}x{s}, bilinear up", up[0]))

fig, axes = plt.subplots(1, 5, figsize=(12, 2.9), layout="constrained")
for ax, (title, im) in zip(axes, panels, strict=True):
    ax.imshow(im.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.axis("off")
print(svg(fig, alt="A street scene and its average-pooled versions at 1x1, 2x2, 3x3 and 6x6 bins"))
