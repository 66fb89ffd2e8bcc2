import matplotlib.pyplot as plt
import torch

from knowledge.plotting import svg

torch.manual_seed(0)
# One channel of a feature map, as a segmentation network sees it: every image has its own
# offset a (lighting, scene) shared by all its pixels, plus pixel noise e. Population:
# mean 0, variance 0.3 + 0.7 = 1. For comparison: the same variance, independent pixels.
var_image, var_pixel = 0.3, 0.7
trials, max_batch, pixels = 500, 32, 256  # 500 random batches of 16x16 feature maps
a = torch.randn(trials, max_batch, 1) * var_image**0.5
x = a + torch.randn(trials, max_batch, pixels) * var_pixel**0.5  # (trials, images, pixels)
x_iid = torch.randn(trials, max_batch, pixels)

sizes = [1, 2, 4, 8, 16, 32]
sd_mean, sd_mean_iid, var_lo, var_mid, var_hi = [], [], [], [], []
for b in sizes:
    batch = x[:, :b].reshape(trials, -1)  # the first b images of each trial
    sd_mean.append(batch.mean(dim=1).std().item())
    sd_mean_iid.append(x_iid[:, :b].reshape(trials, -1).mean(dim=1).std().item())
    v = batch.var(dim=1, unbiased=False)  # what BN normalizes with
    lo, mid, hi = torch.quantile(v, torch.tensor([0.05, 0.5, 0.95])).tolist()
    var_lo.append(lo)
    var_mid.append(mid)
    var_hi.append(hi)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
ax1.plot(sizes, sd_mean, "o-", label="images differ (offset per image)")
ax1.plot(sizes, sd_mean_iid, "s--", label="independent pixels")
ax1.set(
    xscale="log",
    yscale="log",
    xlabel="images per batch",
    ylabel="std of the batch mean",
    title="Batch mean around the true mean 0",
)
ax1.legend(fontsize=8)
ax2.fill_between(sizes, var_lo, var_hi, alpha=0.3, label="5% to 95% of batches")
ax2.plot(sizes, var_mid, "o-", label="median")
ax2.axhline(1.0, color="black", linestyle=":", label="population variance 1")
ax2.annotate(
    f"1 image: median {var_mid[0]:.2f},\nthe offset a is invisible",
    (1, var_mid[0]),
    xytext=(2.2, 0.45),
    fontsize=8,
    arrowprops={"arrowstyle": "->"},
)
ax2.set(
    xscale="log",
    xlabel="images per batch",
    ylabel="batch variance (biased)",
    title="Batch variance around the true variance 1",
    ylim=(0.3, 1.4),
)
ax2.legend(fontsize=8, loc="lower right")
for ax in (ax1, ax2):
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.minorticks_off()
print(svg(fig, alt="Spread of the batch mean and batch variance versus images per batch"))
