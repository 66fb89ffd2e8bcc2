import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
x = torch.randn(1, 3, 9, 10)  # (N, C, H, W), odd H on purpose

max_pool = nn.MaxPool2d(kernel_size=2)  # stride defaults to kernel_size
avg_pool = nn.AvgPool2d(kernel_size=2)
strided = nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1)
print("input           ", tuple(x.shape))
print("MaxPool2d(2)    ", tuple(max_pool(x).shape), " last odd row dropped")
print("AvgPool2d(2)    ", tuple(avg_pool(x).shape))
print("Conv2d(s=2, p=1)", tuple(strided(x).shape), " learned, new channel count")

# One bright pixel inside a 2x2 window
spot = torch.zeros(1, 1, 4, 4)
spot[0, 0, 1, 0] = 1.0
moved = torch.zeros(1, 1, 4, 4)
moved[0, 0, 0, 1] = 1.0  # same window, other corner
print("max pool :", max_pool(spot)[0, 0].tolist())
print("avg pool :", avg_pool(spot)[0, 0].tolist())
print("max pool sees the move:", not torch.equal(max_pool(spot), max_pool(moved)))

# A strided conv computes the stride-1 output and keeps every second row and column
with torch.no_grad():
    dense = F.conv2d(x, strided.weight, strided.bias, padding=1)
    same = torch.allclose(strided(x), dense[..., ::2, ::2], atol=1e-6)
print("stride-2 conv == stride-1 conv then [::2, ::2]:", same)
