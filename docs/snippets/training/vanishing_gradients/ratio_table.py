import torch

from knowledge.training import DEEP_MLP_VARIANTS, layer_grad_norms, make_deep_mlp

torch.manual_seed(0)
x = torch.randn(128, 32)  # the same batch as in the plot
y = torch.randint(0, 10, (128,))
layers = [f"layer{i}" for i in range(1, 21)]

print("          gradient of the parameters      gradient of the layer output")
print("variant    layer1   layer20  1 / 20        layer1   layer20  1 / 20")
for variant in DEEP_MLP_VARIANTS:
    torch.manual_seed(0)
    model = make_deep_mlp(variant)
    row = []
    for of in ("weight", "output"):
        norms = layer_grad_norms(model, x, y, layers=layers, of=of)
        first, last = norms[0][1], norms[-1][1]
        row.append(f"{first:8.1e}  {last:8.1e}  {first / last:7.1e}")
    print(f"{variant:9s}" + "     ".join(row))
