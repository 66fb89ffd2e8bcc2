import warnings

import torch
import torch.nn.functional as F

from knowledge.blocks import same_padding

for k, d in [(1, 1), (3, 1), (5, 1), (7, 1), (3, 2), (3, 6)]:
    print(f"k={k} d={d}: effective kernel {d * (k - 1) + 1}, padding {same_padding(k, d)}")
try:
    same_padding(4)
except ValueError as err:
    print("ValueError:", err)

# torch's padding="same" handles the even kernel by padding one more zero on the right
torch.manual_seed(0)
x, w = torch.randn(1, 1, 8), torch.randn(1, 1, 4)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # torch warns that it pads a copy of the input here
    same = F.conv1d(x, w, padding="same")
by_hand = F.conv1d(F.pad(x, (1, 2)), w)  # 1 zero before, 2 after, then a valid conv
print("padding='same' == pad (1, 2) + valid conv:", torch.allclose(same, by_hand))
print("length:", x.shape[-1], "->", same.shape[-1])
