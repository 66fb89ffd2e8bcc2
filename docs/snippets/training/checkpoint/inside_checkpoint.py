import tempfile
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from knowledge.training import ResumableSampler, Runner, save_checkpoint

torch.manual_seed(0)
data = TensorDataset(torch.randn(20, 3, 8, 8), torch.randint(0, 4, (20,)))
model = nn.Sequential(
    nn.Conv2d(3, 8, 3),
    nn.BatchNorm2d(8),
    nn.ReLU(),
    nn.Dropout(0.2),
    nn.AdaptiveAvgPool2d(1),
    nn.Flatten(),
    nn.Linear(8, 4),
)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)
sampler = ResumableSampler(20, seed=0)
runner = Runner(
    model,
    optimizer,
    DataLoader(data, batch_size=8, sampler=sampler),
    loss_fn=lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1]),
    scheduler=scheduler,
    max_iters=7,
)  # 3 iterations per epoch
runner.run()

with tempfile.TemporaryDirectory() as tmp:
    path = save_checkpoint(
        Path(tmp) / "iter_7.pth",
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        iteration=runner.iter,
        epoch=runner.epoch,
        sampler_state=sampler.state_dict(),
        meta={"lr": 0.1},
    )
    ckpt = torch.load(path, weights_only=True)

print("state_dict:", len(ckpt["state_dict"]), "entries, e.g.", list(ckpt["state_dict"])[2:6])
opt_state = ckpt["optimizer"]
print(
    "optimizer :",
    len(opt_state["state"]),
    "momentum buffers; lr now",
    opt_state["param_groups"][0]["lr"],
)
print("scheduler :", {k: ckpt["scheduler"][k] for k in ("last_epoch", "step_size", "_last_lr")})
print("counters  : iteration", ckpt["iteration"], "epoch", ckpt["epoch"])
print("sampler   :", ckpt["sampler"])
rng = ckpt["rng"]
print(
    "rng       :",
    {k: type(v).__name__ for k, v in rng.items()},
    "| torch state",
    tuple(rng["torch"].shape),
    rng["torch"].dtype,
)
print("meta      :", sorted(ckpt["meta"]))
