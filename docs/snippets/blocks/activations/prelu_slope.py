import matplotlib.pyplot as plt
import torch

from knowledge.blocks import PReLU
from knowledge.plotting import svg

torch.manual_seed(0)
targets = torch.tensor([0.3, 0.0, -0.2])  # the negative-side slope of each channel's target
x = torch.rand(256, 3) * 6 - 3  # (N, C): inputs in [-3, 3], 3 channels
y = torch.where(x > 0, x, targets * x)

act = PReLU(num_parameters=3)  # every slope starts at 0.25
lr, history = 0.1, [act.weight.detach().clone()]
for _ in range(80):
    loss = torch.mean((act(x) - y) ** 2)
    (grad,) = torch.autograd.grad(loss, act.weight)
    with torch.no_grad():
        act.weight -= lr * grad  # plain gradient descent, no weight decay
    history.append(act.weight.detach().clone())
history = torch.stack(history)  # (steps + 1, C)

fig, ax = plt.subplots(figsize=(9, 3.4), layout="constrained")
for c, target in enumerate(targets.tolist()):
    lines = ax.plot(
        history[:, c], label=f"channel {c}: target {target:+.1f}, learned {history[-1, c]:+.4f}"
    )
    ax.axhline(target, color=lines[0].get_color(), linestyle=":", linewidth=1)
ax.set(
    xlabel="gradient step",
    ylabel="PReLU slope a_c",
    title="PReLU learns one negative-side slope per channel (init 0.25)",
)
ax.grid(alpha=0.3)
ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
print(svg(fig, alt="PReLU slopes converging to their targets over gradient steps"))
