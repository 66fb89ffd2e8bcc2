import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from knowledge.training import iters_per_epoch

data = TensorDataset(torch.arange(10))  # N = 10 samples, ids 0..9
batch_size = 2  # per GPU
for drop_last in (False, True):
    print(f"drop_last={drop_last}")
    for world_size in (1, 3, 4):
        batches = []
        for rank in range(world_size):  # one process per GPU; no process group needed here
            sampler = DistributedSampler(
                data, num_replicas=world_size, rank=rank, shuffle=False, drop_last=drop_last
            )
            loader = DataLoader(data, batch_size=batch_size, sampler=sampler, drop_last=drop_last)
            batches.append([batch[0].tolist() for batch in loader])
        formula = iters_per_epoch(10, batch_size, world_size=world_size, drop_last=drop_last)
        seen = [i for rank in batches for batch in rank for i in batch]
        iters = len(batches[0])
        print(
            f"  W={world_size}: {iters} iteration{'s' * (iters != 1)} (formula: {formula}), "
            f"{len(seen)} samples used, {len(set(seen))} distinct"
        )
        for rank, rank_batches in enumerate(batches):
            print(f"    rank {rank}: {rank_batches}")
