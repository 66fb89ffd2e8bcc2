import matplotlib.pyplot as plt

from knowledge.plotting import svg
from knowledge.training import warmup_factor

W = 100
iters = range(0, 131)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
for ax, r, scale in zip(axes, (0.1, 1e-3), ("linear", "log"), strict=True):
    for mode, style in (("constant", ":"), ("linear", "-"), ("exp", "--")):
        f = [warmup_factor(i, mode=mode, warmup_iters=W, warmup_ratio=r) for i in iters]
        ax.plot(iters, f, style, label=mode, drawstyle="steps-post" if mode == "constant" else None)
    ax.axvline(W, color="gray", lw=0.8)
    ax.set_yscale(scale)
    ax.set(xlabel="iteration i", ylabel="factor f(i)", title=f"W = {W}, r = {r:g}, {scale} y axis")
    ax.legend(loc="lower right")
print(svg(fig, alt="The three warmup modes: constant, linear and exp, on linear and log axes"))
