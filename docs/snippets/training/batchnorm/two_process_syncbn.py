import torch
from torch import nn

from knowledge.training._syncbn_worker import demo_two_process_syncbn

if __name__ != "__mp_main__":  # spawned workers re-import this file; only the parent runs it
    # Two real processes joined by gloo on 127.0.0.1. Each holds 2 of the 4 images, runs
    # SyncBatchNorm(3) forward, then backward with the loss (y * g).sum() for a random g.
    run = demo_two_process_syncbn()
    x, g, ranks = run["x"], run["g"], run["ranks"]

    # The reference: ONE process, plain BatchNorm2d on the whole batch of 4
    bn = nn.BatchNorm2d(3, dtype=torch.float64)
    bn.load_state_dict(run["state"])
    x_full = x.clone().requires_grad_(True)
    y_full = bn(x_full)
    (y_full * g).sum().backward()

    def max_diff(a: torch.Tensor, b: torch.Tensor) -> str:
        d = (a - b).abs().max().item()
        return "< 1e-12" if d < 1e-12 else f"{d:.1e}"

    def cat(key: str) -> torch.Tensor:  # the ranks' pieces of the batch, in rank order
        return torch.cat([r[key][0] for r in ranks])

    def total(key: str) -> torch.Tensor:  # per-rank weight/bias grads: DDP adds them up
        return sum(r[key][0] for r in ranks)

    print("rank batch sizes:", [r["y"][0].shape[0] for r in ranks])
    print("output        max |diff|", max_diff(cat("y"), y_full))
    print("input grad    max |diff|", max_diff(cat("grad_x"), x_full.grad))
    print("weight grad   max |diff|", max_diff(total("grad_weight"), bn.weight.grad))
    print("bias grad     max |diff|", max_diff(total("grad_bias"), bn.bias.grad))
    for i, r in enumerate(ranks):
        rm = max_diff(r["running_mean"][0], bn.running_mean)
        rv = max_diff(r["running_var"][0], bn.running_var)
        print(f"rank {i} running_mean max |diff| {rm}, running_var max |diff| {rv}")

    # One 1x1 sample per rank: each process alone would raise, together they have 2 values
    tiny = [r["y"][0].flatten().tolist() for r in run["tiny_ranks"]]
    print("batch 1 per rank, 1x1:", [[round(v, 3) for v in t] for t in tiny])
    print("torch.nn.SyncBatchNorm on CPU in the same processes ->", run["torch_error"])
