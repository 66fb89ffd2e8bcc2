import torch
from torch import nn

torch.manual_seed(0)
batches = [torch.randn(4, 1) + 5 for _ in range(600)]  # batch means scatter around 5

# PyTorch: running = (1 - momentum) * running + momentum * batch   (momentum: NEW batch)
# Keras:   running = momentum * running + (1 - momentum) * batch   (momentum: OLD value)
bn = nn.BatchNorm1d(1, momentum=0.1)
keras = 0.0
for x in batches[:3]:
    bn(x)
    keras = 0.9 * keras + (1 - 0.9) * x.mean().item()
print(f"PyTorch momentum=0.1: {bn.running_mean.item():.4f}, Keras momentum=0.9: {keras:.4f}")

# Copying Keras' default 0.99 into PyTorch keeps only the last batch
for momentum in (0.01, 0.99):
    bn = nn.BatchNorm1d(1, momentum=momentum)
    for x in batches:
        bn(x)
    print(f"PyTorch momentum={momentum}: running_mean {bn.running_mean.item():.3f}")
print(f"mean of the last batch:       {batches[-1].mean().item():.3f}")
print(f"mean over all batches:        {torch.cat(batches).mean().item():.3f}")
