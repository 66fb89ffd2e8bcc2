import torch
from torch import nn

from knowledge.blocks import LeakyReLU

torch.manual_seed(0)
N, D, H = 256, 16, 128
x = torch.randn(N, D)
y = 3 * torch.tanh(x @ torch.randn(D, 1)) + 2  # a regression target with a non-zero mean


def make_net(act: nn.Module) -> nn.Sequential:
    torch.manual_seed(1)  # the same initial weights for every run
    return nn.Sequential(nn.Linear(D, H), act, nn.Linear(H, H), act, nn.Linear(H, 1))


def second_layer_units(net: nn.Sequential) -> tuple[torch.Tensor, torch.Tensor]:
    """Per unit of the second hidden layer: never positive? zero gradient on every input?"""
    pre = net[2](net[1](net[0](x))).detach().requires_grad_(True)  # (N, H) pre-activations
    (slope,) = torch.autograd.grad(net[3](pre).sum(), pre)  # f'(pre), element-wise
    return (pre <= 0).all(dim=0), (slope == 0).all(dim=0)


def sgd_step(net: nn.Sequential, lr: float) -> None:
    net.zero_grad()
    nn.functional.mse_loss(net(x), y).backward()
    with torch.no_grad():
        for p in net.parameters():
            p -= lr * p.grad


print(f"initial prediction mean {make_net(nn.ReLU())(x).mean():.2f}, target mean {y.mean():.2f}")
print("share of the 128 units of hidden layer 2, after ONE SGD step from the same init")
print(f"{'lr':>5} | {'ReLU: dead':>11} | {'LeakyReLU: never > 0':>21} | {'zero gradient':>13}")
for lr in (0.1, 0.3, 1.0, 3.0):
    relu, leaky = make_net(nn.ReLU()), make_net(LeakyReLU(0.01))
    sgd_step(relu, lr)
    sgd_step(leaky, lr)
    relu_dead, _ = second_layer_units(relu)
    never_pos, no_grad = second_layer_units(leaky)
    print(
        f"{lr:>5} | {relu_dead.double().mean():>11.1%} | {never_pos.double().mean():>21.1%} | "
        f"{no_grad.double().mean():>13.1%}"
    )

# Which units died, and can they still learn? Look at the gradient of their incoming weights.
for name, act in (("ReLU", nn.ReLU()), ("LeakyReLU", LeakyReLU(0.01))):
    net = make_net(act)
    w_out = net[4].weight.detach().flatten().clone()  # outgoing weight of each layer-2 unit
    sgd_step(net, 1.0)
    stuck, _ = second_layer_units(net)
    net.zero_grad()
    nn.functional.mse_loss(net(x), y).backward()
    grad_in = net[2].weight.grad[stuck]  # rows of W2 feeding the never-positive units
    print(
        f"{name:<9} lr 1.0: {int(stuck.sum())} never positive, "
        f"{int((w_out[stuck] < 0).sum())} of them with w_out < 0, "
        f"|grad| into them = {grad_in.norm():.2e}"
    )
