import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Patch

from knowledge.plotting import svg
from knowledge.tutorial import CLASSES, ShapesDataset, colorize, predict, tutorial_run

run = tutorial_run()  # the cached run of this page
config, second = run.config, run.second
resumed_at = second.start_iter

# 1. Curves: loss (LoggerHook), validation mIoU (EvalHook), learning rate (LrRecorderHook)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), layout="constrained")
axes[0].plot([r["iter"] for r in second.losses], [r["loss"] for r in second.losses])
axes[0].set(title="training loss (mean of 10 iterations)", xlabel="iteration")
axes[1].plot(
    [r["iter"] for r in second.evals], [r["mIoU"] for r in second.evals], "o-", label="model"
)
axes[1].axhline(run.baseline["mIoU"], color="gray", ls=":", label="majority baseline")
axes[1].set(title="validation mIoU", xlabel="iteration", ylim=(0, 1))
axes[1].legend(loc="lower right")
axes[2].plot(range(config.iters), second.lrs)
axes[2].set(title="learning rate (warmup, then poly)", xlabel="iteration")
axes[2].ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
for ax in axes:
    ax.axvline(resumed_at, color="C3", lw=0.8, ls="--")
axes[0].text(resumed_at, 0.95, " resumed", color="C3", transform=axes[0].get_xaxis_transform())
print(svg(fig, alt="Training loss, validation mIoU and learning rate over the run"))

# 2. Input, ground truth and prediction for the first six validation images
val = ShapesDataset("val")
images, labels = val.images[:6], val.labels[:6]
pred = predict(second.model, images)  # argmax of the logits, (6, 64, 64)
fig, axes = plt.subplots(3, 6, figsize=(10, 5.6), layout="constrained")
for i in range(6):
    axes[0, i].imshow(images[i].permute(1, 2, 0).numpy())  # (3, H, W) -> (H, W, 3)
    axes[1, i].imshow(colorize(labels[i]).numpy())
    axes[2, i].imshow(colorize(pred[i]).numpy())
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
for row, name in enumerate(("input", "ground truth", "prediction")):
    axes[row, 0].set_ylabel(name)
colors = colorize(torch.arange(len(CLASSES))).float() / 255
handles = [Patch(color=colors[c].tolist(), label=name) for c, name in enumerate(CLASSES)]
handles.append(Patch(facecolor="white", edgecolor="gray", label="ignore (255)"))
fig.legend(handles=handles, loc="outside lower center", ncol=6, frameon=False)
print(svg(fig, alt="Six validation images with their ground truth and the model's prediction"))
