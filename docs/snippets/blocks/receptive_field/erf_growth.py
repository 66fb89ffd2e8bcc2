import numpy as np
import torch
from torch import nn

from knowledge.blocks import effective_receptive_field, theoretical_receptive_field

# n 1-D convolutions with kernel [1, 1, 1]: the theoretical field grows like 2n + 1, the
# gradient's spread like sqrt(n) (a sum of n independent steps of -1, 0 or +1)
length, mid = 81, 40
# With symmetric kernels, the gradient map of the centre output equals the stack's
# response to an impulse at the centre: repeated convolution gives every depth at once
maps, e = {}, np.zeros(length)
e[mid] = 1.0
for n in range(1, 33):
    e = np.convolve(e, [1.0, 1.0, 1.0], mode="same")
    maps[n] = e

conv = nn.Conv1d(1, 1, 3, padding=1, bias=False).double()
nn.init.ones_(conv.weight)
four = nn.Sequential(conv, conv, conv, conv)  # one conv, run four times
erf = effective_receptive_field(four, torch.zeros(1, 1, length, dtype=torch.float64))
print("impulse response == effective_receptive_field at n=4:", np.allclose(erf.numpy(), maps[4]))

offsets = np.arange(length) - mid
print(f"{'layers':>6} {'r':>4} {'ERF std':>8} {'sqrt(2n/3)':>10} {'95% of the mass':>16}")
for n in (1, 2, 4, 8, 16, 32):
    p = maps[n] / maps[n].sum()
    std = np.sqrt((p * offsets**2).sum())
    width = next(w for w in range(mid + 1) if p[mid - w : mid + w + 1].sum() >= 0.95)
    r = theoretical_receptive_field(nn.Sequential(*[conv] * n)).size[0]
    print(f"{n:6} {r:4} {std:8.2f} {(2 * n / 3) ** 0.5:10.2f} {2 * width + 1:8} px of {r}")
