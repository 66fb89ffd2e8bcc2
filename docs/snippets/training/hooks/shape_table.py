import torch
from torch import nn

from knowledge.training import trace_shapes

torch.manual_seed(0)
net = nn.Sequential(
    nn.Conv2d(3, 16, 3, stride=2, padding=1),
    nn.BatchNorm2d(16),
    nn.ReLU(inplace=True),
    nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=2, dilation=2),
    nn.ReLU(inplace=True),
    nn.Conv2d(32, 5, 1),  # 5-class score map
    nn.Upsample(scale_factor=8, mode="bilinear"),
)

rows = trace_shapes(net, torch.randn(2, 3, 64, 64))
print(f"{'name':<5}{'type':<12}{'input':<20}{'output':<20}{'params':>7}")
for r in rows:
    print(f"{r.name:<5}{r.type:<12}{r.input_shape!s:<20}{r.output_shape!s:<20}{r.params:>7,}")
print(f"total parameters: {sum(r.params for r in rows):,}")
