import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import FuncFormatter

from knowledge.plotting import svg
from knowledge.training import WarmupPolyLR

N, W, base = 160_000, 1500, 6e-5
curves = {}
for style in ("mmcv", "mmengine"):
    opt = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=base)
    curves[style] = WarmupPolyLR(
        opt,
        max_iters=N,
        power=1.0,
        min_lr=0.0,
        warmup="linear",
        warmup_iters=W,
        warmup_ratio=1e-6,
        style=style,
    )

coarse = [*range(0, N, 400), N - 1]  # the whole run
fine = range(0, 2001)  # the first 2000 iterations
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
for style, ls in (("mmcv", "-"), ("mmengine", "--")):
    lr_at = curves[style].lr_at
    axes[0].plot(coarse, [lr_at(i)[0] for i in coarse], ls, label=style)
    axes[1].plot(fine, [lr_at(i)[0] for i in fine], ls, label=style)
diff = [100 * (curves["mmengine"].lr_at(i)[0] - curves["mmcv"].lr_at(i)[0]) / base for i in coarse]
axes[2].plot(coarse, diff, color="C2")
axes[0].set(title="Whole run: 160k iterations", xlabel="iteration", ylabel="learning rate")
axes[1].set(title="Zoom: first 2000 iterations", xlabel="iteration")
axes[1].axvline(W, color="gray", lw=0.8)
axes[1].text(W + 30, 1e-5, "W = 1500", color="gray")
axes[2].set(
    title="Difference, % of the peak lr", xlabel="iteration", ylabel="(mmengine - mmcv) / 6e-5, %"
)
thousands = FuncFormatter(lambda v, _: f"{v / 1000:g}k")
axes[0].xaxis.set_major_formatter(thousands)
axes[2].xaxis.set_major_formatter(thousands)
for ax in axes[:2]:
    ax.legend()
    ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
print(svg(fig, alt="Learning rate of the Swin UPerNet ADE20K recipe in mmcv and mmengine style"))
