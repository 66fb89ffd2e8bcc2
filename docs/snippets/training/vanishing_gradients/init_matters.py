import torch
from torch import nn

from knowledge.training import layer_grad_norms, make_deep_mlp

torch.manual_seed(0)
x = torch.randn(128, 32)
y = torch.randint(0, 10, (128,))
layers = [f"layer{i}" for i in range(1, 21)]
n = 64  # fan-in of layers 2..20

print("ReLU MLP, 20 layers   n*Var(w)   predicted 1/20   measured 1/20")
for name in ("PyTorch default", "He (Kaiming)"):
    torch.manual_seed(0)
    model = make_deep_mlp("relu", depth=20, width=n)  # built with He init
    if name == "PyTorch default":
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.reset_parameters()  # nn.Linear's own init: U(-1/sqrt(n), 1/sqrt(n))
    w = model.layer10.linear.weight.detach()
    gain = n * float(w.var())  # n * Var(w): 1/3 for the default, 2 for He
    # backward, each ReLU layer scales the gradient by about sqrt(n * Var(w) / 2)
    predicted = (gain / 2) ** (19 / 2)
    norms = layer_grad_norms(model, x, y, layers=layers, of="output")
    print(f"{name:20s} {gain:9.3f} {predicted:16.1e} {norms[0][1] / norms[-1][1]:15.1e}")
