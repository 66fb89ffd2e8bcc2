import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from knowledge.training import Hook, LoggerHook, LrRecorderHook, ResumableSampler, Runner

torch.manual_seed(0)
w_true = torch.randn(8, 1)
x_train, x_val = torch.randn(96, 8), torch.randn(32, 8)
train = TensorDataset(x_train, x_train @ w_true + 0.1 * torch.randn(96, 1))
val = TensorDataset(x_val, x_val @ w_true)


class ValLossHook(Hook):
    """A user hook: evaluates on the validation set after every epoch."""

    def __init__(self, dataset):
        self.dataset, self.losses = dataset, []

    def after_train_epoch(self, runner):
        runner.model.eval()
        with torch.no_grad():
            x, y = self.dataset.tensors
            self.losses.append(nn.functional.mse_loss(runner.model(x), y).item())
        runner.model.train()


model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
logger, lrs, val_hook = LoggerHook(interval=6), LrRecorderHook(), ValLossHook(val)
runner = Runner(
    model,
    optimizer,
    DataLoader(train, batch_size=16, sampler=ResumableSampler(96)),  # 6 iterations per epoch
    loss_fn=lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
    scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=30),
    max_epochs=5,
    hooks=[logger, lrs, val_hook],
)
runner.run()

print("LoggerHook.records (mean train loss over each interval):")
for record in logger.records:
    print(
        f"  iter {record['iter']:>2}  epoch {record['epoch']}  "
        f"loss {record['loss']:.4f}  lr {record['lr']:.5f}"
    )
print("ValLossHook.losses:", [round(v, 4) for v in val_hook.losses])
print(
    "LrRecorderHook: first/last lr",
    round(lrs.lrs[0], 5),
    round(lrs.lrs[-1], 5),
    f"({len(lrs.lrs)} values)",
)
