import torch
from torch import nn

torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3, padding=1))
names = {module: f"net[{name}]" for name, module in net.named_children()}
log = []


def pre_hook(module, args):  # before forward: may return replacement args
    log.append(f"forward pre-hook  {names[module]}: input {tuple(args[0].shape)}")


def forward_hook(module, args, output):  # after forward: may return a replacement output
    log.append(f"forward hook      {names[module]}: output {tuple(output.shape)}")


def backward_hook(module, grad_input, grad_output):  # during backward: may replace grad_input
    norm = grad_output[0].norm().item()
    log.append(f"backward hook     {names[module]}: |dL/d output| = {norm:.4f}")


handles = []
for layer in (net[0], net[2]):
    handles.append(layer.register_forward_pre_hook(pre_hook))
    handles.append(layer.register_forward_hook(forward_hook))
    handles.append(layer.register_full_backward_hook(backward_hook))

x = torch.randn(1, 3, 8, 8, requires_grad=True)
net(x).square().mean().backward()
print("\n".join(log))

for handle in handles:
    handle.remove()  # unregister; a removed hook never runs again
log.clear()
net(x).square().mean().backward()
print("after remove():", len(log), "hook calls")
