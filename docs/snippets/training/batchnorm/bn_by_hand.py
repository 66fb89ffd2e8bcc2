import torch
from torch import nn

# One channel, a batch of four values: small enough to check by hand
x = torch.tensor([[1.0], [2.0], [3.0], [6.0]])  # shape (N, C) = (4, 1)
bn = nn.BatchNorm1d(1)  # weight 1, bias 0, running_mean 0, running_var 1, momentum 0.1

y = bn(x)  # training mode: normalize with the statistics of this batch
mean = x.mean(dim=0)  # 3.0
var_biased = x.var(dim=0, unbiased=False)  # 14 / 4 = 3.5, used to normalize
var_unbiased = x.var(dim=0, unbiased=True)  # 14 / 3 = 4.667, used for running_var
y_by_hand = (x - mean) / torch.sqrt(var_biased + bn.eps) * bn.weight + bn.bias

print("batch mean:", mean.item(), " biased var:", var_biased.item())
print("y (nn.BatchNorm1d):", [round(v, 4) for v in y.flatten().tolist()])
print("y (by hand):       ", [round(v, 4) for v in y_by_hand.flatten().tolist()])
print("running_mean:", round(bn.running_mean.item(), 4), "= 0.9 * 0 + 0.1 * 3")
print("running_var: ", round(bn.running_var.item(), 4), "= 0.9 * 1 + 0.1 * 14/3")
print("num_batches_tracked:", int(bn.num_batches_tracked))
