import torch
from torch import nn

torch.manual_seed(0)
x = torch.randn(1, 3, 8, 8, requires_grad=True)

net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True))  # ReLU overwrites conv's output
net[0].register_full_backward_hook(lambda module, grad_input, grad_output: None)
try:
    net(x)  # fails already in the forward pass, at the in-place ReLU
except RuntimeError as err:
    print("RuntimeError:", err)

# Fix: an out-of-place ReLU (or clone the output before modifying it)
net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(inplace=False))
grads = []
net[0].register_full_backward_hook(
    lambda module, grad_input, grad_output: grads.append(grad_output)
)
net(x).sum().backward()
print("with ReLU(inplace=False): the hook saw dL/d output of shape", tuple(grads[0][0].shape))
