import torch
from torch import nn


def mlp(activation, depth=8, width=32):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), activation()]
    return nn.Sequential(*layers)


def output_grad_norms(net, x):
    """|dL/d output| of every Linear layer, read by full backward hooks."""
    norms = {}

    def make_hook(name):
        def hook(module, grad_input, grad_output):
            norms[name] = grad_output[0].norm().item()

        return hook

    linears = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Linear)]
    handles = [m.register_full_backward_hook(make_hook(n)) for n, m in linears]
    net(x).square().mean().backward()
    for handle in handles:
        handle.remove()
    return [norms[n] for n, _ in linears]  # input side first


torch.manual_seed(0)
x = torch.randn(16, 32, requires_grad=True)
sigmoid = output_grad_norms(mlp(nn.Sigmoid), x)
relu = output_grad_norms(mlp(nn.ReLU), x)
print("Linear layer   |dL/d output| sigmoid   relu")
for i, (s, r) in enumerate(zip(sigmoid, relu, strict=True)):
    print(f"{i:>12}   {s:>20.2e}   {r:.2e}")
