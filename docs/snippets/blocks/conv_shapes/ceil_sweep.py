import math
import random

import torch
import torch.nn.functional as F

from knowledge.blocks import conv_output_size

rng = random.Random(0)
x = {h: torch.zeros(1, 1, h, h) for h in range(1, 65)}
valid = ceil_valid = naive_wrong = ours_wrong = 0
example = None
for _ in range(2000):
    h, k, s = rng.randint(1, 64), rng.randint(1, 7), rng.randint(1, 4)
    p, d, ceil = rng.randint(0, k), rng.randint(1, 3), rng.random() < 0.5
    try:  # the real max-pool decides what is valid and what the size is
        out = F.max_pool2d(x[h], k, s, p, d, ceil_mode=ceil).shape[-1]
    except RuntimeError:
        continue
    valid += 1
    ours_wrong += conv_output_size(h, k, s, p, d, ceil, layer="maxpool") != out
    if ceil:
        ceil_valid += 1
        naive = math.ceil((h + 2 * p - d * (k - 1) - 1) / s) + 1  # the textbook formula
        if naive != out:
            naive_wrong += 1
            if example is None and (k, s, p, d) == (2, 2, 1, 1):
                example = (h, k, s, p, naive, out)

print(f"random MaxPool2d configurations torch accepts: {valid}, {ceil_valid} with ceil_mode")
print(
    f"plain ceiling formula wrong: {naive_wrong}, that is "
    f"{naive_wrong / ceil_valid:.1%} of ceil_mode configs, {naive_wrong / valid:.1%} of all"
)
print(f"conv_output_size wrong:      {ours_wrong}")
h, k, s, p, naive, out = example
print(f"example: H={h} k={k} s={s} p={p}: ceiling formula {naive}, torch {out}")
print(
    f"  window {naive} would start at padded index {(naive - 1) * s}, "
    f"in the right padding (indices >= H + p = {h + p})"
)
