import torch
from torch import nn

torch.manual_seed(0)
bn = nn.BatchNorm2d(4)

# The global-pooling branch of PPM or ASPP: (N, C, 1, 1). With N = 1 per GPU,
# every channel holds a single value, and its variance is undefined.
pooled = torch.randn(1, 4, 1, 1)
try:
    bn(pooled)
except ValueError as err:
    print(f"{type(err).__name__}: {err}")

# Two values per channel do run, but the output no longer depends on the input:
# with mean (a + b) / 2 and biased variance ((a - b) / 2)^2, it is always about -1 and +1.
for _ in range(3):
    pair = torch.randn(2, 4, 1, 1) * 10
    ins = [round(v, 2) for v in pair[:, 0].flatten().tolist()]
    outs = [round(v, 3) for v in bn(pair)[:, 0].flatten().tolist()]
    print(f"N=2, channel 0: in {ins} -> out {outs}")

# Batch 1 with H x W > 1 runs: the statistics come from the pixels of one image
print("N=1, 8x8 output shape:", tuple(bn(torch.randn(1, 4, 8, 8)).shape))
# Eval mode uses the running statistics, so batch 1 is fine at inference
print("eval, N=1, 1x1 output shape:", tuple(bn.eval()(pooled).shape))
