import torch
from torch import nn

from knowledge.blocks import theoretical_receptive_field

torch.manual_seed(0)


def make_stack(nonlinear):
    act = nn.ReLU if nonlinear else nn.Identity
    pool = nn.MaxPool2d(2) if nonlinear else nn.AvgPool2d(2)
    return nn.Sequential(
        nn.Conv2d(1, 1, 3, padding=1),
        act(),
        pool,
        nn.Conv2d(1, 1, 3, padding=2, dilation=2),
        act(),
        nn.Conv2d(1, 1, 3, stride=2, padding=1),
    ).double()


def gradient_support(stack, x, unit):
    """Per image: mask of the input pixels whose gradient for output (unit, unit) is non-zero."""
    x = x.clone().requires_grad_(True)
    stack(x)[:, 0, unit, unit].sum().backward()  # images are independent: one pass for all
    return x.grad[:, 0] != 0


linear = make_stack(nonlinear=False)
with torch.no_grad():  # positive weights: every path adds, nothing cancels
    for conv in linear[0::3]:
        conv.weight.uniform_(0.5, 1.5)
rf = theoretical_receptive_field(linear)
(r0, r1), (c0, c1) = rf.region(6)
square = torch.zeros(48, 48, dtype=torch.bool)
square[r0 : r1 + 1, c0 : c1 + 1] = True
print(f"recurrence: r={rf.size[0]}, jump={rf.jump[0]}, start={rf.start[0]}")
print(f"  output (6, 6) sees rows {r0}..{r1}, cols {c0}..{c1}: {int(square.sum())} pixels")

x = torch.randn(5, 1, 48, 48, dtype=torch.float64)  # five random images
support = gradient_support(linear, x, 6)
print(
    f"linear stack: gradient non-zero on {int(support[0].sum())} pixels, "
    f"exactly the square for all 5 images: {all(torch.equal(m, square) for m in support)}"
)
for i, mask in enumerate(gradient_support(make_stack(nonlinear=True), x, 6)):
    print(
        f"ReLU + max-pool, image {i}: {int(mask.sum()):3} pixels non-zero, "
        f"{int((mask & ~square).sum())} outside the square"
    )
