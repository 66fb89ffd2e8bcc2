"""A 2-process SyncBN training step vs single-process BN on the same total batch.

Both runs train the same small conv net (two conv-BN-ReLU blocks and a 1x1 classifier) with
SGD on one batch of 16 images of 3x64x64 and per-pixel cross-entropy. The single process
uses ``nn.BatchNorm2d`` on all 16 images with 2 threads; the distributed run uses two gloo
processes of 1 thread each (the same 2 cores), 8 images each, knowledge's
[`SyncBatchNorm`][knowledge.training.SyncBatchNorm] and ``DistributedDataParallel``. With
equal shards, the mean of the two local losses is the global mean, so one step must give
the same weights in both runs: the entry checks that before it reports a time.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from knowledge.training import convert_sync_batchnorm
from knowledge.training._syncbn_worker import spawn_gloo

BATCH, SIZE, CLASSES = 16, 64, 8


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Conv2d(32, CLASSES, 1),
    )


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, 3, SIZE, SIZE, generator=gen)
    y = torch.randint(0, CLASSES, (BATCH, SIZE, SIZE), generator=gen)
    return x, y


def _step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    opt.step()


def _timed_steps(model, opt, x, y, steps: int, barrier=None) -> list[float]:
    times = []
    for _ in range(steps):
        if barrier is not None:
            barrier()
        start = time.perf_counter()
        _step(model, opt, x, y)
        if barrier is not None:
            barrier()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def _sync_rank(rank: int, world_size: int, steps: int) -> dict:
    x, y = _data()
    shard = BATCH // world_size
    x, y = x[rank * shard : (rank + 1) * shard], y[rank * shard : (rank + 1) * shard]
    model = nn.parallel.DistributedDataParallel(convert_sync_batchnorm(_net()))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    _step(model, opt, x, y)  # the checked step
    first = [p.detach().clone() for p in model.module.parameters()]
    times = _timed_steps(model, opt, x, y, steps, barrier=dist.barrier)
    return {"weights": first, "ms": times}


def bench_syncbn_step(steps: int = 10, rounds: int = 2) -> dict:
    """Median milliseconds per training step: single-process BN vs 2-process SyncBN."""
    x, y = _data()
    single_ms: list[float] = []
    sync_ms: list[float] = []
    same = True
    for _ in range(rounds):
        torch.set_num_threads(2)
        model = _net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        _step(model, opt, x, y)
        ref = [p.detach().clone() for p in model.parameters()]
        single_ms += _timed_steps(model, opt, x, y, steps)
        ranks = spawn_gloo(_sync_rank, 2, steps)
        torch.set_num_threads(2)
        for r in ranks:
            same &= all(
                torch.allclose(a, b, rtol=1e-4, atol=1e-5)
                for a, b in zip(r["weights"], ref, strict=True)
            )
        sync_ms += ranks[0]["ms"]
    single, sync = statistics.median(single_ms), statistics.median(sync_ms)
    return {"single_ms": single, "sync_ms": sync, "ratio": single / sync, "same": same}


if __name__ == "__main__":
    print(bench_syncbn_step())
