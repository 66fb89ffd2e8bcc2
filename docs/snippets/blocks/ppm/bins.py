import torch
import torch.nn.functional as F


def bins(length: int, s: int) -> list[tuple[int, int]]:
    """Bin i covers [floor(i * L / s), ceil((i + 1) * L / s)), as in adaptive pooling."""
    return [((i * length) // s, -(-(i + 1) * length // s)) for i in range(s)]


for length in (60, 13, 4):
    print(f"L={length:>2}, s=6:", bins(length, 6))

# The same bins reproduce torch's adaptive average pooling along one axis
x = torch.arange(13.0)
ours = torch.tensor([x[a:b].mean() for a, b in bins(13, 6)])
print(
    "matches F.adaptive_avg_pool1d:",
    torch.equal(ours, F.adaptive_avg_pool1d(x[None, None], 6)[0, 0]),
)
