import torch

from knowledge.blocks import ELU, LeakyReLU, PReLU

torch.manual_seed(0)
x = torch.randn(8, 3, 16, 16, dtype=torch.float64) * 3
g = torch.randn_like(x)  # an upstream gradient dL/dy
zeros = torch.zeros(1, 3, 1, 1, dtype=torch.float64)  # one exact zero per channel

prelu_ours, prelu_torch = PReLU(3, dtype=torch.float64), torch.nn.PReLU(3, dtype=torch.float64)
for p in (prelu_ours, prelu_torch):
    with torch.no_grad():
        p.weight.copy_(torch.tensor([0.25, -0.1, 0.6], dtype=torch.float64))  # as if learned
pairs = {
    "LeakyReLU(0.01)": (LeakyReLU(0.01), torch.nn.LeakyReLU(0.01)),
    "PReLU(3)": (prelu_ours, prelu_torch),
    "ELU(1.0)": (ELU(1.0), torch.nn.ELU(1.0)),
    "ELU(0.5)": (ELU(0.5), torch.nn.ELU(0.5)),
}


def run(module):
    xs = x.clone().requires_grad_(True)
    y = module(xs)
    (dx,) = torch.autograd.grad(y, xs, g)
    z = zeros.clone().requires_grad_(True)
    (d0,) = torch.autograd.grad(module(z).sum(), z)
    return y.detach(), dx, ", ".join(f"{v:g}" for v in dict.fromkeys(d0.flatten().tolist()))


def compare(a, b):
    if torch.equal(a.view(torch.int64), b.view(torch.int64)):  # the same 64 bits everywhere
        return "bitwise"
    return f"max diff {(a - b).abs().max():.1e}"


print(f"{'module':<17}{'forward':<10}{'input gradient':<18}f'(0) ours | torch")
for name, (ours, ref) in pairs.items():
    (y, dx, d0), (ry, rdx, rd0) = run(ours), run(ref)
    print(f"{name:<17}{compare(y, ry):<10}{compare(dx, rdx):<18}{d0} | {rd0}")

for p in (prelu_ours, prelu_torch):
    p.weight.grad = None
    p(x).mul(g).sum().backward()
print("PReLU weight gradient:", compare(prelu_ours.weight.grad, prelu_torch.weight.grad))
z = zeros.clone().requires_grad_(True)
print("ReLU's f'(0) in torch:", torch.autograd.grad(torch.relu(z).sum(), z)[0].flatten()[0].item())
