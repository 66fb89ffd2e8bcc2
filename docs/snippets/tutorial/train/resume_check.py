import tempfile

import torch

from knowledge.tutorial import TrainConfig, fit

tiny = TrainConfig(
    iters=8,
    batch_size=4,
    warmup_iters=2,
    log_interval=2,
    eval_interval=4,
    num_train=12,
    num_val=4,
    widths=(4, 8, 8, 8),
    channels=8,
)  # 3 iterations per epoch: the interruption falls inside epoch 1
straight = fit(tiny)
with tempfile.TemporaryDirectory() as out:
    first = fit(tiny, out_dir=out, stop_after=4)  # "crashes" after iteration 4
    resumed = fit(tiny, resume_from=first.checkpoints[-1])  # new model, optimizer, loader

a, b = straight.model.state_dict(), resumed.model.state_dict()
print("resumed at iteration:          ", resumed.start_iter)
print("every weight and buffer equal: ", all(torch.equal(a[k], b[k]) for k in a))
print("loss log equal:                ", resumed.losses == straight.losses)
print("lr of every iteration equal:   ", resumed.lrs == straight.lrs)
print("final mIoU equal:              ", resumed.metrics["mIoU"] == straight.metrics["mIoU"])
