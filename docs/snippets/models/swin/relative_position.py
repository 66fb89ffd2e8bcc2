import torch

from knowledge.models import WindowAttention, relative_position_index

# M = 2: tokens 0 1 / 2 3; a 3 x 3 table of offsets (dy, dx) in [-1, 1]^2
print(relative_position_index(2))

torch.manual_seed(0)
attn = WindowAttention(96, 7, 3)  # Swin-T stage 0: C = 96, M = 7, 3 heads
print("table:", tuple(attn.relative_position_bias_table.shape), "= ((2M - 1)^2, heads)")
print("index:", tuple(attn.relative_position_index.shape), "= (M^2, M^2)")
bias = attn.relative_position_bias()  # (heads, M^2, M^2)
print("bias: ", tuple(bias.shape))
# Pairs with the same offset share one entry: (0 -> 1) and (30 -> 31) are both (0, -1)
print("same offset, same bias:", torch.equal(bias[:, 0, 1], bias[:, 30, 31]))
print("distinct entries used:", attn.relative_position_index.unique().numel())
