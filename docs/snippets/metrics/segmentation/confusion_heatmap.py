import matplotlib.pyplot as plt
import torch

from knowledge.metrics import SegmentationMetric
from knowledge.plotting import svg

torch.manual_seed(0)
names = ["road", "sidewalk", "building", "vegetation", "sky"]
H, W = 48, 64
yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
side = (xx - W // 2).abs()  # distance from the middle of the road
tree = (yy - 20) ** 2 + (xx - 14) ** 2  # squared distance from the tree's centre
target = torch.full((H, W), 4)  # sky
target[yy >= 12] = 2  # building
target[tree < 50] = 3  # a tree
target[yy >= 30] = 1  # sidewalk
target[(yy >= 30) & (side <= yy - 22)] = 0  # road
target[(yy >= 42) & (side <= 18)] = 255  # the ego vehicle's bonnet: ignored

pred = target.clone()
pred[target == 255] = 0  # whatever is predicted there is not counted
pred[(target == 1) & (side <= yy - 18)] = 0  # sidewalk next to the road taken for road
pred[(target == 2) & (tree < 90)] = 3  # the tree bleeds into the building
pred[(target == 4) & (yy >= 9) & (xx >= 40)] = 2  # building edge drawn too high
noise = torch.rand(H, W) < 0.03
pred[noise] = torch.randint(0, 5, (H, W))[noise]

metric = SegmentationMetric(num_classes=5, ignore_index=255)
metric.update(pred, target)
res = metric.compute()
cm = metric.confusion_matrix
share = cm / cm.sum(dim=1, keepdim=True)  # row i: where the pixels of true class i went

# Cityscapes colours for the five classes, then black for ignored pixels
colors = [[128, 64, 128], [244, 35, 232], [70, 70, 70], [107, 142, 35], [70, 130, 180], [0, 0, 0]]
fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), layout="constrained")
panels = [(target, "Ground truth (black: ignored)"), (pred, "Prediction")]
for ax, (labels, title) in zip(axes, panels, strict=False):
    ax.imshow(torch.tensor(colors)[labels.clamp(max=5)].numpy(), interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.axis("off")
ax = axes[2]
ax.imshow(share.numpy(), cmap="Blues", vmin=0, vmax=1)
for i in range(5):
    for j in range(5):
        color = "white" if share[i, j] > 0.5 else "black"
        ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=8, color=color)
ax.set_xticks(range(5), names, rotation=30, ha="right", fontsize=8)
ax.set_yticks(range(5), names, fontsize=8)
ax.set(xlabel="Predicted", ylabel="Ground truth")
ax.set_title(f"aAcc {res['aAcc']:.3f}  mAcc {res['mAcc']:.3f}  mIoU {res['mIoU']:.3f}", fontsize=10)
print(svg(fig, alt="A synthetic street scene, its prediction and their confusion matrix"))
