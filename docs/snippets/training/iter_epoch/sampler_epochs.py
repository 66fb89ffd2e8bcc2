import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from knowledge.training import ResumableSampler

data = TensorDataset(torch.arange(8))

# Pitfall: DistributedSampler shuffles with seed + epoch, and the epoch only changes
# through set_epoch(). Forget it and every epoch repeats the same order.
sampler = DistributedSampler(data, num_replicas=1, rank=0, seed=0)
print("no set_epoch :", [list(sampler) for _ in range(3)])
orders = []
for epoch in range(3):
    sampler.set_epoch(epoch)
    orders.append(list(sampler))
print("set_epoch(e) :", orders)

# ResumableSampler draws the same permutations from seed + epoch, and can start mid-epoch
ours = ResumableSampler(8, seed=0)
ours.set_epoch(2)
print("same order as DistributedSampler:", list(ours) == orders[2])
ours.advance(6)  # three batches of 2 consumed before the run stopped
print("after advance(6), it yields:", list(ours))

# A plain DataLoader(shuffle=True) draws its order from the global RNG, which the model
# (dropout, augmentation) also consumes: the order depends on everything that ran before.
loader = DataLoader(data, batch_size=8, shuffle=True)
torch.manual_seed(0)
first = next(iter(loader))[0].tolist()
torch.manual_seed(0)
torch.rand(1)  # e.g. one dropout mask drawn earlier
second = next(iter(loader))[0].tolist()
print("shuffle=True, same seed:", first, "vs", second)
