import torch

torch.manual_seed(0)
# A channel with a large mean and a small spread, in float32, split over two ranks
x = (torch.randn(2048, dtype=torch.float64) * 0.01 + 1000).float()
shards = x.split([1024, 1024])
exact = x.double().var(unbiased=False).item()  # reference, in float64

# Naive: all-reduce count, sum and sum of squares, then E[x^2] - E[x]^2
n = sum(s.numel() for s in shards)
total = sum(s.sum() for s in shards)
total_sq = sum((s * s).sum() for s in shards)
naive = (total_sq / n - (total / n) ** 2).item()

# Chan: each rank sends (count, mean, M2 = sum of squared deviations from its own mean)
counts = torch.tensor([s.numel() for s in shards], dtype=torch.float64)
means = torch.stack([s.double().mean() for s in shards])
m2s = torch.stack([((s - s.mean()) ** 2).sum().double() for s in shards])
mean = (counts * means).sum() / counts.sum()
chan = ((m2s + counts * (means - mean) ** 2).sum() / counts.sum()).item()

print(f"exact variance:           {exact:.6e}")
print(f"E[x^2] - E[x]^2, float32: {naive:.6e}")
print(f"Chan's formula:           {chan:.6e}")
