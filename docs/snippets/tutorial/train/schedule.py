import torch

from knowledge.training import WarmupPolyLR
from knowledge.tutorial import TrainConfig

config = TrainConfig()
optimizer = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=config.lr)
scheduler = WarmupPolyLR(
    optimizer,
    max_iters=config.iters,
    power=config.power,
    warmup="linear",
    warmup_iters=config.warmup_iters,
    warmup_ratio=config.warmup_ratio,
)
n, w = config.iters, config.warmup_iters
print(f"lr={config.lr}  iters={n}  warmup_iters={w}  warmup_ratio={config.warmup_ratio}")
for i in (0, 1, w // 2, w - 1, w, n // 2, n - 1):
    print(f"iteration {i:>3}: lr {scheduler.lr_at(i)[0]:.6f}")
