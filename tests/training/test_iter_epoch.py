"""Tests for knowledge.training.iter_epoch.

Oracles: torch's own DistributedSampler + DataLoader (batches counted on every rank),
DistributedSampler's permutation for the sampler order, a plain hand-written PyTorch loop
for the Runner's arithmetic, and the published schedules of mmseg's ADE20K / Cityscapes
configs worked by hand.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from knowledge.training import (
    Hook,
    ResumableSampler,
    Runner,
    epochs_to_iters,
    iters_per_epoch,
    iters_to_epochs,
)

# --------------------------------------------------------------------------------------
# iters_per_epoch against torch's DistributedSampler + DataLoader
# --------------------------------------------------------------------------------------


def torch_batches_per_rank(n: int, b: int, w: int, drop_last: bool) -> list[int]:
    """Batches each rank's DataLoader really yields; no process group is needed."""
    data = TensorDataset(torch.arange(n))
    counts = []
    for rank in range(w):
        sampler = DistributedSampler(data, num_replicas=w, rank=rank, drop_last=drop_last)
        loader = DataLoader(data, batch_size=b, sampler=sampler, drop_last=drop_last)
        counts.append(sum(1 for _ in loader))
    return counts


@pytest.mark.parametrize("drop_last", [False, True])
def test_iters_per_epoch_matches_distributed_sampler_and_dataloader(drop_last):
    for n in (1, 2, 5, 7, 10, 16, 17, 33):
        for b in (1, 2, 3, 4, 8):
            for w in (1, 2, 3, 4, 8):
                counts = torch_batches_per_rank(n, b, w, drop_last)
                assert len(set(counts)) == 1, (n, b, w, counts)  # every rank agrees
                assert iters_per_epoch(n, b, world_size=w, drop_last=drop_last) == counts[0], (
                    n,
                    b,
                    w,
                    drop_last,
                )


def test_empty_dataset_gives_zero_iterations():
    assert iters_per_epoch(0, 4) == 0
    assert torch_batches_per_rank(0, 4, 2, False) == [0, 0]


def test_padding_repeats_samples_and_drop_last_discards_them():
    # 10 samples on 4 ranks: ceil(10/4) = 3 per rank, 12 in total -> 2 samples seen twice;
    # drop_last: floor(10/4) = 2 per rank, 8 in total -> 2 samples never seen.
    data = TensorDataset(torch.arange(10))
    for drop_last, total, distinct in ((False, 12, 10), (True, 8, 8)):
        seen = []
        for rank in range(4):
            sampler = DistributedSampler(data, num_replicas=4, rank=rank, drop_last=drop_last)
            seen += list(sampler)
        assert (len(seen), len(set(seen))) == (total, distinct)
    # batch 2 per rank: 3 samples -> 2 batches (last one short), or 1 with drop_last
    assert iters_per_epoch(10, 2, world_size=4) == 2
    assert iters_per_epoch(10, 2, world_size=4, drop_last=True) == 1


def test_published_schedules():
    # ADE20K (mmseg 160k schedule): 20,210 images, 8 GPUs x 2 images.
    # per rank ceil(20210 / 8) = ceil(2526.25) = 2527 images -> ceil(2527 / 2) = 1264 iters
    length = iters_per_epoch(20210, 2, world_size=8)
    assert length == 1264
    # 160000 / 1264 = 126.582...; the naive 160000 * 16 / 20210 = 126.670...
    assert iters_to_epochs(160_000, iters_per_epoch=length) == pytest.approx(126.5823, abs=1e-4)
    assert 160_000 * 16 / 20210 == pytest.approx(126.6700, abs=1e-4)
    # Cityscapes (80k schedule): 2,975 images, 8 GPUs x 1 image.
    # per rank ceil(2975 / 8) = ceil(371.875) = 372 iters; 80000 / 372 = 215.05...
    length = iters_per_epoch(2975, 1, world_size=8)
    assert length == 372
    assert iters_to_epochs(80_000, iters_per_epoch=length) == pytest.approx(215.0538, abs=1e-4)


def test_epoch_iteration_conversion():
    assert epochs_to_iters(3, iters_per_epoch=372) == 1116
    assert epochs_to_iters(0.5, iters_per_epoch=7) == 4  # 3.5 rounds half to even -> 4
    assert epochs_to_iters(0.25, iters_per_epoch=10) == 2  # 2.5 -> 2 (half to even)
    assert epochs_to_iters(0, iters_per_epoch=5) == 0
    for epochs in (1, 2, 17, 215):
        iters = epochs_to_iters(epochs, iters_per_epoch=372)
        assert iters_to_epochs(iters, iters_per_epoch=372) == epochs


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: iters_per_epoch(10, 0), ValueError, "batch_size must be >= 1, got 0"),
        (lambda: iters_per_epoch(-1, 2), ValueError, "dataset_size must be >= 0, got -1"),
        (lambda: iters_per_epoch(10, 2, world_size=0), ValueError, "world_size must be >= 1"),
        (lambda: iters_per_epoch(10.0, 2), TypeError, "dataset_size must be an int, got 10.0"),
        (lambda: iters_per_epoch(10, True), TypeError, "batch_size must be an int, got True"),
        (lambda: epochs_to_iters(-1, iters_per_epoch=5), ValueError, "epochs must be finite"),
        (lambda: epochs_to_iters("2", iters_per_epoch=5), TypeError, "epochs must be a number"),
        (lambda: epochs_to_iters(2, iters_per_epoch=0), ValueError, "iters_per_epoch must be"),
        (lambda: iters_to_epochs(-3, iters_per_epoch=5), ValueError, "iters must be >= 0"),
    ],
)
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------------------
# ResumableSampler
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 7])
def test_sampler_order_matches_distributed_sampler_with_one_replica(seed):
    data = TensorDataset(torch.arange(13))
    reference = DistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=seed)
    ours = ResumableSampler(13, seed=seed)
    orders = []
    for epoch in range(4):
        reference.set_epoch(epoch)
        ours.set_epoch(epoch)
        assert list(ours) == list(reference)
        orders.append(list(ours))
    assert len({tuple(o) for o in orders}) == 4  # a new permutation every epoch


def test_sampler_without_shuffle_and_independent_of_global_rng():
    assert list(ResumableSampler(5, shuffle=False)) == [0, 1, 2, 3, 4]
    sampler = ResumableSampler(20, seed=1)
    torch.manual_seed(0)
    first = list(sampler)
    torch.manual_seed(12345)
    before = torch.get_rng_state()
    assert list(sampler) == first
    assert torch.equal(torch.get_rng_state(), before)  # the global RNG is not consumed


def test_sampler_skips_consumed_samples_and_restores_state():
    sampler = ResumableSampler(10, seed=3)
    sampler.set_epoch(2)
    order = sampler.order()
    sampler.advance(4)
    assert len(sampler) == 6
    assert list(sampler) == order[4:]
    restored = ResumableSampler(10, seed=3)
    restored.load_state_dict(sampler.state_dict())
    assert (restored.epoch, restored.position) == (2, 4)
    assert list(restored) == order[4:]
    restored.set_epoch(3)
    assert restored.position == 0 and len(restored) == 10


def test_sampler_errors():
    sampler = ResumableSampler(10, seed=3)
    with pytest.raises(ValueError, match="cannot advance by 11"):
        sampler.advance(11)
    other = ResumableSampler(10, seed=4)
    with pytest.raises(ValueError, match="seed=3 but this sampler has seed=4"):
        other.load_state_dict(sampler.state_dict())
    with pytest.raises(ValueError, match="dataset_size=10 but this sampler has dataset_size=12"):
        ResumableSampler(12, seed=3).load_state_dict(sampler.state_dict())
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        sampler.set_epoch(-1)


# --------------------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------------------


class Recorder(Hook):
    def __init__(self):
        self.calls: list[str] = []

    def _log(self, name, runner):
        self.calls.append(f"{name}:{runner.epoch}:{runner.iter}")

    def before_run(self, runner):
        self._log("before_run", runner)

    def before_train_epoch(self, runner):
        self._log("before_epoch", runner)

    def before_train_iter(self, runner):
        self._log("before_iter", runner)

    def after_train_iter(self, runner):
        self._log("after_iter", runner)

    def after_train_epoch(self, runner):
        self._log("after_epoch", runner)

    def after_run(self, runner):
        self._log("after_run", runner)


def mse(model, batch):
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def make_loader(n=10, batch_size=4, seed=0, sampler=None, drop_last=False):
    gen = torch.Generator().manual_seed(seed)
    data = TensorDataset(torch.randn(n, 3, generator=gen), torch.randn(n, 1, generator=gen))
    sampler = ResumableSampler(n, seed=seed) if sampler is None else sampler
    return DataLoader(data, batch_size=batch_size, sampler=sampler, drop_last=drop_last)


def test_hook_order_by_epochs():
    # 10 samples, batch 4 -> 3 iterations per epoch (4 + 4 + 2); 2 epochs = 6 iterations
    model = nn.Linear(3, 1)
    rec = Recorder()
    runner = Runner(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        make_loader(),
        loss_fn=mse,
        max_epochs=2,
        hooks=[rec],
    )
    runner.run()
    expected = ["before_run:0:0"]
    for epoch in range(2):
        expected.append(f"before_epoch:{epoch}:{3 * epoch}")
        for i in range(3):
            it = 3 * epoch + i
            expected += [f"before_iter:{epoch}:{it}", f"after_iter:{epoch}:{it + 1}"]
        expected.append(f"after_epoch:{epoch}:{3 * epoch + 3}")
    expected.append("after_run:2:6")
    assert rec.calls == expected
    assert (runner.iter, runner.epoch, runner.inner_iter) == (6, 2, 0)


def test_partial_last_epoch_has_no_after_epoch():
    model = nn.Linear(3, 1)
    rec = Recorder()
    runner = Runner(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        make_loader(drop_last=True),  # 10 // 4 = 2 iterations per epoch
        loss_fn=mse,
        max_iters=5,
        hooks=[rec],
    )
    assert runner.epoch_length == 2
    runner.run()
    assert [c for c in rec.calls if "epoch" in c] == [
        "before_epoch:0:0",
        "after_epoch:0:2",
        "before_epoch:1:2",
        "after_epoch:1:4",
        "before_epoch:2:4",
    ]
    assert (runner.iter, runner.epoch, runner.inner_iter) == (5, 2, 1)


def test_runner_equals_a_plain_pytorch_loop():
    # Oracle: the textbook loop, with torch's DistributedSampler for the same data order.
    def build():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
        return model, opt, sched

    n, b, epochs = 14, 4, 3
    model, opt, sched = build()
    data = make_loader(n, b, seed=5).dataset
    ref_sampler = DistributedSampler(data, num_replicas=1, rank=0, seed=5)
    ref_loader = DataLoader(data, batch_size=b, sampler=ref_sampler)
    lrs = []
    for epoch in range(epochs):
        ref_sampler.set_epoch(epoch)
        for x, y in ref_loader:
            lrs.append(opt.param_groups[0]["lr"])
            loss = nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()

    model2, opt2, sched2 = build()
    runner = Runner(
        model2, opt2, make_loader(n, b, seed=5), loss_fn=mse, scheduler=sched2, max_epochs=epochs
    )
    seen = []

    class LrSpy(Hook):
        def after_train_iter(self, r):
            seen.append(r.outputs["lr"])

    runner.hooks.append(LrSpy())
    runner.run()
    assert runner.iter == len(lrs) == 12  # ceil(14 / 4) = 4 iterations x 3 epochs
    assert seen == lrs
    assert sched2.last_epoch == 12  # stepped once per iteration
    for (k, v), v2 in zip(model.state_dict().items(), model2.state_dict().values(), strict=True):
        assert torch.equal(v, v2), k


def test_runner_works_with_a_distributed_sampler():
    data = make_loader(9, 2).dataset
    sampler = DistributedSampler(data, num_replicas=1, rank=0, seed=1)
    model = nn.Linear(3, 1)
    runner = Runner(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        DataLoader(data, batch_size=2, sampler=sampler),
        loss_fn=mse,
        max_epochs=3,
    )
    runner.run()
    assert (runner.epoch_length, runner.iter, sampler.epoch) == (5, 15, 2)


def test_runner_refuses_inconsistent_resume_points():
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    plain = DataLoader(make_loader().dataset, batch_size=4, shuffle=True)
    runner = Runner(model, opt, plain, loss_fn=mse, max_iters=6)
    runner.iter = 1
    with pytest.raises(ValueError, match="needs a ResumableSampler"):
        runner.run()
    runner = Runner(model, opt, make_loader(), loss_fn=mse, max_iters=6)
    runner.iter = 1  # but the sampler is still at position 0
    with pytest.raises(ValueError, match="restore the sampler state from the same checkpoint"):
        runner.run()
    runner.iter, runner.epoch = 5, 0  # 5 > 3 iterations in epoch 0
    with pytest.raises(ValueError, match="iter=5 is not inside epoch 0"):
        runner.run()


def test_runner_argument_errors():
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="exactly one of max_iters and max_epochs"):
        Runner(model, opt, make_loader(), loss_fn=mse)
    with pytest.raises(ValueError, match="exactly one of max_iters and max_epochs"):
        Runner(model, opt, make_loader(), loss_fn=mse, max_iters=3, max_epochs=1)
    with pytest.raises(TypeError, match="lacks the methods"):
        Runner(model, opt, make_loader(), loss_fn=mse, max_iters=3, hooks=[object()])
    with pytest.raises(TypeError, match="loss_fn must return a scalar tensor"):
        Runner(model, opt, make_loader(), loss_fn=lambda m, b: m(b[0]), max_iters=1).run()
