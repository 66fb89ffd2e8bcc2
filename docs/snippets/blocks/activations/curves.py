import matplotlib.pyplot as plt
import torch

from knowledge.blocks import ELU, LeakyReLU, PReLU
from knowledge.plotting import svg

torch.manual_seed(0)
x = torch.linspace(-3, 3, 301, dtype=torch.float64)
zero = x.abs().argmin()
x[zero] = 0.0  # make sure the grid holds x = 0 exactly
activations = {
    "ReLU": torch.relu,
    "LeakyReLU (a = 0.1)": LeakyReLU(negative_slope=0.1),
    "PReLU (a = 0.25, its init)": PReLU(dtype=torch.float64),
    "ELU (alpha = 1)": ELU(alpha=1.0),
}

fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
for name, act in activations.items():
    xs = x.clone().requires_grad_(True)
    y = act(xs)
    (dy,) = torch.autograd.grad(y.sum(), xs)  # the derivative autograd will use in training
    color = ax_f.plot(x, y.detach(), label=name)[0].get_color()
    for side in (x < 0, x > 0):  # drawn apart, so that no line joins the two sides at 0
        ax_d.plot(x[side], dy[side], color=color)
    ax_d.plot(0, dy[zero], "o", color=color, markersize=5)
ax_f.axhline(-1, color="gray", linestyle=":", linewidth=1)
ax_f.text(-2.9, -1.22, "ELU saturates at -alpha", fontsize=8)
ax_f.set(title="f(x)", xlabel="x", ylim=(-1.3, 3))
ax_d.set(title="f'(x) from autograd (dots: the value used at x = 0)", xlabel="x", ylim=(-0.1, 1.15))
for ax in (ax_f, ax_d):
    ax.grid(alpha=0.3)
    ax.axvline(0, color="gray", linewidth=0.8)
ax_f.legend(fontsize=8)
print(svg(fig, alt="ReLU, LeakyReLU, PReLU and ELU with their derivatives"))
