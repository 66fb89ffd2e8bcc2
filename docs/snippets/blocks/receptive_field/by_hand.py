from torch import nn

from knowledge.blocks import theoretical_receptive_field

stack = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1),
    nn.ReLU(),
    nn.Conv2d(16, 16, 3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1),
)
rf = theoretical_receptive_field(stack, input_size=32)
print(rf)  # one row per layer: k s p d, output size, r, jump j, start
print("output (0, 0) sees input rows/cols", rf.region(0)[0], "(negative: padding)")
print("output (5, 5) sees input rows/cols", rf.region(5)[0])
