import bisect

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from knowledge.plotting import svg
from knowledge.training import (
    LrRecorderHook,
    ResumableSampler,
    Runner,
    epochs_to_iters,
    iters_per_epoch,
)

torch.manual_seed(0)
n, batch_size, epochs = 50, 8, 12
length = iters_per_epoch(n, batch_size)  # ceil(50 / 8) = 7
# A "1x" step schedule written in epochs (decay x0.1 after epochs 8 and 11), converted to
# iterations, plus a linear warmup over the first 10 iterations (under 1.5 epochs).
milestones = [epochs_to_iters(e, iters_per_epoch=length) for e in (8, 11)]
warmup = 10


def factor(it):
    return min(1.0, 0.1 + 0.9 * it / warmup) * 0.1 ** bisect.bisect_right(milestones, it)


data = TensorDataset(torch.randn(n, 4), torch.randn(n, 1))
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.02)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)  # stepped every iteration
lrs = LrRecorderHook()
runner = Runner(
    model,
    optimizer,
    DataLoader(data, batch_size=batch_size, sampler=ResumableSampler(n)),
    loss_fn=lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
    scheduler=scheduler,
    max_epochs=epochs,
    hooks=[lrs],
)
runner.run()

fig, ax = plt.subplots(figsize=(7, 2.8), layout="constrained")
ax.step(range(runner.iter), lrs.lrs, where="post", label="stepped every iteration (Runner)")
# The same factor evaluated only at the start of each epoch: a scheduler stepped per epoch
per_epoch = [0.02 * factor(i // length * length) for i in range(runner.iter)]
ax.step(range(runner.iter), per_epoch, where="post", ls="--", label="stepped once per epoch")
for e in range(1, epochs):
    ax.axvline(e * length, color="0.85", lw=0.8, zorder=0)
ax.set(xlabel=f"iteration ({length} per epoch)", ylabel="learning rate", xlim=(0, runner.iter))
top = ax.secondary_xaxis("top", functions=(lambda i: i / length, lambda e: e * length))
top.set_xlabel("epoch")
ax.legend(fontsize=8)
print(
    svg(
        fig,
        alt="Learning rate per iteration: a 10-iteration warmup, then steps at epochs 8 "
        "and 11; stepped once per epoch, the warmup becomes two coarse steps",
    )
)
