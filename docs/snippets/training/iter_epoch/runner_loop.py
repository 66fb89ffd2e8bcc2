import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from knowledge.training import Hook, ResumableSampler, Runner

torch.manual_seed(0)
data = TensorDataset(torch.randn(10, 3), torch.randn(10, 1))  # N = 10


class Trace(Hook):
    """Writes down where the loop is at each hook point."""

    def __init__(self):
        self.lines = []

    def before_train_epoch(self, runner):
        self.line = f"epoch {runner.epoch}: iterations"

    def after_train_iter(self, runner):
        self.line += f" {runner.iter}"  # runner.iter counts finished iterations

    def after_train_epoch(self, runner):
        self.lines.append(self.line + " | after_train_epoch")
        self.line = ""

    def after_run(self, runner):
        if self.line:  # an epoch cut short by max_iters
            self.lines.append(self.line + " | (stopped by max_iters)")
        self.lines.append(f"done: iter={runner.iter}, epoch={runner.epoch}")


def mse(model, batch):
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


for budget in ({"max_epochs": 2}, {"max_iters": 7}):
    model = nn.Linear(3, 1)
    loader = DataLoader(data, batch_size=4, sampler=ResumableSampler(10))  # 4 + 4 + 2
    trace = Trace()
    runner = Runner(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        loader,
        loss_fn=mse,
        hooks=[trace],
        **budget,
    )
    print(f"{budget}: epoch_length={runner.epoch_length}, max_iters={runner.max_iters}")
    runner.run()
    print("\n".join("  " + line for line in trace.lines))
