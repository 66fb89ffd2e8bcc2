import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from knowledge.detection import box_iou, nms
from knowledge.plotting import svg

torch.manual_seed(0)
truth = torch.tensor(
    [
        [40.0, 30.0, 100.0, 170.0],  # person A
        [65.0, 35.0, 125.0, 170.0],  # person B, partly behind A (IoU with A: 0.40)
        [170.0, 110.0, 280.0, 170.0],  # car
    ]
)
# A detector fires many times around each object: 12 jittered candidates per object,
# scored higher the better they fit (a stand-in for a real classifier's confidence)
candidates = truth.repeat_interleave(12, dim=0) + torch.randn(36, 4) * 6
fit = box_iou(candidates, truth).max(dim=1).values
scores = (0.9 * fit + 0.1 * torch.rand(36)).clamp(max=1.0)

panels = [
    ("All 36 candidates", torch.arange(36)),
    ("NMS, IoU > 0.5", nms(candidates, scores, 0.5)),
    ("NMS, IoU > 0.3: person B is lost", nms(candidates, scores, 0.3)),
]
cmap, norm = plt.get_cmap("viridis"), plt.Normalize(0.5, 1.0)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
for ax, (title, keep) in zip(axes, panels, strict=True):
    for i in keep.tolist():
        x1, y1, x2, y2 = candidates[i].tolist()
        color = cmap(norm(scores[i].item()))
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color=color, lw=1.2))
        if len(keep) < 36:
            ax.text(x1 + 2, y1 + 9, f"{scores[i]:.2f}", fontsize=7, color=color)
    ax.set(xlim=(20, 300), ylim=(185, 15), aspect="equal")
    ax.set_title(f"{title} ({len(keep)} boxes)", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="score", shrink=0.8)
print(svg(fig, alt="Candidate boxes before NMS and the boxes kept at IoU thresholds 0.5 and 0.3"))
