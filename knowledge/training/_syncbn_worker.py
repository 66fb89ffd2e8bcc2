"""Real multi-process SyncBN runs (gloo on 127.0.0.1), for the tests and the BatchNorm page.

Spawned processes can only run functions that they can import, so the per-rank code lives
here rather than in a test file or a page block. Everything crossing a process boundary is
plain data (tensors, numbers, strings, lists and dicts), written with ``torch.save`` and read
back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import functools
import os
import socket
import tempfile
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from knowledge.training.batchnorm import SyncBatchNorm

__all__ = ["demo_two_process_syncbn", "run_syncbn_cases", "spawn_gloo"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(
    rank: int,
    world_size: int,
    port: int,
    out_dir: str,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size
    )
    try:
        result = fn(rank, world_size, *args)
        torch.save(result, os.path.join(out_dir, f"rank{rank}.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def spawn_gloo(fn: Callable[..., Any], world_size: int, *args: Any) -> list[Any]:
    """Runs ``fn(rank, world_size, *args)`` in ``world_size`` fresh processes joined by gloo.

    Args:
        fn: a module-level function of an importable module (it is pickled by name).
        world_size: number of processes.
        *args: plain data passed to every rank.

    Returns:
        The return values of the ranks, in rank order.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    with tempfile.TemporaryDirectory() as out_dir:
        mp.spawn(
            _entry,
            args=(world_size, _free_port(), out_dir, fn, args),
            nprocs=world_size,
            join=True,
        )
        return [
            torch.load(os.path.join(out_dir, f"rank{r}.pt"), weights_only=True)
            for r in range(world_size)
        ]


def run_syncbn_cases(rank: int, world_size: int, cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-rank body: trains a SyncBatchNorm on this rank's slice of each case's batches.

    A case holds ``module`` (constructor keywords), an optional initial ``state`` dict,
    ``splits`` (batch size of each rank), ``steps`` (a list of ``{"x", "g"}`` full batches,
    where the loss is ``(y * g).sum()``), an optional full batch ``eval_x`` and optional
    ``group_ranks``: then only those ranks synchronize, through ``process_group``, and
    ``splits`` lists their shards in that order.

    Returns:
        ``{"cases": [...], "torch_error": str}``: per case and step the local output, input
        gradient, weight and bias gradients and the buffers (None on a rank outside the
        case's group); and the message that
        ``torch.nn.SyncBatchNorm`` raises for a CPU tensor while a process group exists.
    """
    results = []
    for case in cases:
        kwargs = dict(case["module"])
        kwargs["dtype"] = getattr(torch, kwargs.get("dtype", "float64"))
        members = case.get("group_ranks")
        if members is not None:  # every rank takes part in creating a group
            kwargs["process_group"] = dist.new_group(members)
            if rank not in members:
                results.append(None)
                continue
        shard = rank if members is None else members.index(rank)
        bn = SyncBatchNorm(**kwargs)
        if case.get("state") is not None:
            bn.load_state_dict(case["state"])
        out: dict[str, list[Any]] = {k: [] for k in ("y", "grad_x", "grad_weight", "grad_bias")}
        out.update({k: [] for k in ("running_mean", "running_var", "num_batches_tracked")})
        for step in case["steps"]:
            bn.zero_grad(set_to_none=True)
            x = step["x"].split(case["splits"])[shard].clone().requires_grad_(True)
            g = step["g"].split(case["splits"])[shard]
            y = bn(x)
            (y * g).sum().backward()
            out["y"].append(y.detach())
            out["grad_x"].append(x.grad)
            out["grad_weight"].append(None if bn.weight is None else bn.weight.grad)
            out["grad_bias"].append(None if bn.bias is None else bn.bias.grad)
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                buf = getattr(bn, name)
                out[name].append(None if buf is None else buf.clone())
        if case.get("eval_x") is not None:
            bn.eval()
            with torch.no_grad():
                out["eval_y"] = bn(case["eval_x"].split(case["splits"])[shard])
        out["state_dict"] = dict(bn.state_dict())
        results.append(out)

    try:  # torch's own SyncBatchNorm, on a CPU tensor, with the process group in place
        nn.SyncBatchNorm(2).train()(torch.ones(4, 2))
        torch_error = "no error"
    except ValueError as err:
        torch_error = f"{type(err).__name__}: {err}"
    return {"cases": results, "torch_error": torch_error}


@functools.lru_cache(maxsize=1)
def demo_two_process_syncbn() -> dict[str, Any]:
    """The BatchNorm page's two-process run, cached so that the zh and en pages share it.

    Two ranks each get half of a (4, 3, 5, 5) float64 batch and train one step of
    ``SyncBatchNorm(3)`` with a random affine initialization and a random upstream gradient
    ``g`` (the loss is ``(y * g).sum()``). A second case gives each rank one sample of shape
    (1, 3, 1, 1), where plain BN has only one value per channel.

    Returns:
        ``{"x", "g", "state", "splits", "ranks", "tiny_x", "tiny_ranks", "torch_error"}``;
        ``ranks`` and ``tiny_ranks`` hold each rank's results (see ``run_syncbn_cases``).
    """
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 5, 5, generator=gen, dtype=torch.float64) * 2 + 1
    g = torch.rand(4, 3, 5, 5, generator=gen, dtype=torch.float64)
    state = {
        "weight": torch.rand(3, generator=gen, dtype=torch.float64) + 0.5,
        "bias": torch.randn(3, generator=gen, dtype=torch.float64),
        "running_mean": torch.zeros(3, dtype=torch.float64),
        "running_var": torch.ones(3, dtype=torch.float64),
        "num_batches_tracked": torch.tensor(0),
    }
    tiny_x = torch.randn(2, 3, 1, 1, generator=gen, dtype=torch.float64)
    cases = [
        {"module": {"num_features": 3}, "state": state, "splits": [2, 2],
         "steps": [{"x": x, "g": g}]},
        {"module": {"num_features": 3}, "splits": [1, 1],
         "steps": [{"x": tiny_x, "g": torch.ones_like(tiny_x)}]},
    ]  # fmt: skip
    ranks = spawn_gloo(run_syncbn_cases, 2, cases)
    return {
        "x": x,
        "g": g,
        "state": state,
        "splits": [2, 2],
        "ranks": [r["cases"][0] for r in ranks],
        "tiny_x": tiny_x,
        "tiny_ranks": [r["cases"][1] for r in ranks],
        "torch_error": ranks[0]["torch_error"],
    }
