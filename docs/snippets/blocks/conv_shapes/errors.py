import torch
from torch import nn

from knowledge.blocks import conv_output_size

x = torch.zeros(1, 1, 10, 10)
cases = [
    ("MaxPool2d(3, padding=2)", nn.MaxPool2d(3, 1, padding=2), (10, 3, 1, 2, 1, "maxpool")),
    ("MaxPool2d(3, padding=2, dilation=2)", nn.MaxPool2d(3, 1, 2, 2), (10, 3, 1, 2, 2, "maxpool")),
    ("Conv2d(3, padding=2, dilation=2)", nn.Conv2d(1, 1, 3, 1, 2, 2), (10, 3, 1, 2, 2, "conv")),
    ("Conv2d(7) on a 2x2 map", nn.Conv2d(1, 1, 7), (2, 7, 1, 0, 1, "conv")),
]
for name, layer, (size, k, s, p, d, kind) in cases:
    try:
        torch_says = tuple(layer(x[..., :size, :size]).shape[2:])
    except RuntimeError as err:
        torch_says = f"RuntimeError: {str(err).splitlines()[0][:60]}..."
    try:
        ours = conv_output_size(size, k, s, p, d, layer=kind)
    except ValueError as err:
        ours = f"ValueError: {err}"
    print(f"{name}\n  torch: {torch_says}\n  ours:  {ours}")
