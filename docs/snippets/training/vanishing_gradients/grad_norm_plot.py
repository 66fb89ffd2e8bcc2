import matplotlib.pyplot as plt
import torch

from knowledge.plotting import svg
from knowledge.training import DEEP_MLP_VARIANTS, layer_grad_norms, make_deep_mlp

depth = 20
torch.manual_seed(0)
x = torch.randn(128, 32)  # one batch of random inputs
y = torch.randint(0, 10, (128,))  # and random class labels
layers = [f"layer{i}" for i in range(1, depth + 1)]  # hidden layers, input side first

fig, ax = plt.subplots(figsize=(7, 4))
for variant, marker in zip(DEEP_MLP_VARIANTS, "os^D", strict=True):
    torch.manual_seed(0)  # every variant starts from the same seed
    model = make_deep_mlp(variant, depth=depth, width=64, in_features=32, out_features=10)
    norms = [norm for _, norm in layer_grad_norms(model, x, y, layers=layers)]
    ax.plot(range(1, depth + 1), norms, marker=marker, markersize=4, label=variant)
ax.set_yscale("log")
ax.set_xticks(range(1, depth + 1, 2))
ax.set(xlabel="hidden layer (1 = input side)", ylabel="gradient norm of the layer's parameters")
ax.set_title("20-layer MLP at initialisation, one batch, cross-entropy loss", fontsize=10)
ax.grid(True, which="major", alpha=0.3)
ax.legend(title="variant")
print(svg(fig, alt="Per-layer gradient norms of four 20-layer MLPs on a log scale"))
