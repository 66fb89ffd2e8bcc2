import torch
from torch import nn

torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 8, 1))
optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
stored = []

# A debugging hook, registered once ... and the handle forgotten
handle = net[1].register_forward_hook(lambda module, args, output: stored.append(output))

for step in range(1, 7):
    loss = net(torch.randn(4, 3, 64, 64)).square().mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 2 == 0:
        mb = sum(t.numel() * t.element_size() for t in stored) / 2**20
        print(f"step {step}: {len(stored)} feature maps kept alive, {mb:.0f} MiB")

handle.remove()
stored.clear()
net(torch.randn(4, 3, 64, 64))
print("after handle.remove():", len(stored), "stored")
