import torch
import torch.nn.functional as F

from knowledge.models import shift_regions

# One column of a stage: H = 5 rows of tokens, windows of M = 4, shift s = 2, padded to 8
H, M, s = 5, 4, 2
rows = torch.arange(H)  # the row each token comes from; -1 marks a padding token
region = shift_regions(H, 1, M, s)[:, 0] // 3  # row band of each position after the shift


def show(name, order):
    windows = [order[k : k + M].tolist() for k in range(0, len(order), M)]
    labels = [region[k : k + M].tolist() for k in range(0, len(order), M)]
    print(f"{name:<25} windows {windows}  regions {labels}")


show("pad, then shift (seg)", torch.roll(F.pad(rows, (0, 3), value=-1), -s))
show("shift, then pad", F.pad(torch.roll(rows, -s), (0, 3), value=-1))
