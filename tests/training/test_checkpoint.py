"""Tests for knowledge.training.checkpoint.

Oracles: an uninterrupted training run in its own process (bitwise equality of every
tensor after a save/resume in a fresh process), a process killed by SIGKILL in the middle
of a save, torch's own ``load_state_dict(strict=False)`` report of missing and unexpected
keys, and the RNGs' own outputs before and after a round trip.
"""

from __future__ import annotations

import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from knowledge.training import (
    CheckpointError,
    ResumableSampler,
    load_weights,
    resume,
    save_checkpoint,
)

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}

# --------------------------------------------------------------------------------------
# Resume in a fresh process equals a straight run, bit for bit
# --------------------------------------------------------------------------------------

TRAIN_SCRIPT = textwrap.dedent(
    """
    import random
    import sys

    import numpy as np
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from knowledge.training import CheckpointHook, ResumableSampler, Runner, resume

    torch.set_num_threads(1)
    mode, out, total, split = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

    torch.manual_seed(0)  # the same initial weights and data in every process
    random.seed(0)
    np.random.seed(0)
    data = TensorDataset(torch.randn(22, 3, 8, 8), torch.randint(0, 3, (22,)))
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 3),
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.SequentialLR(
        opt,
        [
            torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=5),
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=40),
        ],
        milestones=[5],
    )
    loader = DataLoader(data, batch_size=4, sampler=ResumableSampler(22, seed=1))


    def loss_fn(model, batch):
        x, y = batch
        if random.random() < 0.5:  # augmentation drawn from Python's RNG ...
            x = x.flip(-1)
        x = x * float(np.random.uniform(0.9, 1.1))  # ... and from NumPy's
        return nn.functional.cross_entropy(model(x), y)


    if mode == "straight":
        runner = Runner(model, opt, loader, loss_fn=loss_fn, scheduler=sched, max_iters=total)
    elif mode == "first":
        hook = CheckpointHook(interval=split, out_dir=out)
        runner = Runner(
            model, opt, loader, loss_fn=loss_fn, scheduler=sched, max_iters=split, hooks=[hook]
        )
    else:  # "second": a fresh process; scramble every RNG first to prove they are restored
        torch.manual_seed(999)
        random.seed(999)
        np.random.seed(999)
        state = resume(out, model, opt, sched, sampler=loader.sampler)
        runner = Runner(model, opt, loader, loss_fn=loss_fn, scheduler=sched, max_iters=total)
        runner.iter, runner.epoch = state.iteration, state.epoch
    runner.run()
    if mode != "first":
        torch.save(
            {"weights": model.state_dict(), "lr": opt.param_groups[0]["lr"],
             "iter": runner.iter, "epoch": runner.epoch},
            out + ".result",
        )
    """
)


def run_script(script: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(script), *map(str, args)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen) -> None:
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out


def test_resume_in_a_fresh_process_is_bitwise_identical(tmp_path):
    # 22 samples, batch 4 -> 6 iterations per epoch; 20 iterations, split after 10:
    # epoch 1, iteration 4 of 6 -- in the middle of a shuffled epoch.
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    total, split = 20, 10
    straight = run_script(script, "straight", tmp_path / "straight", total, split)
    first = run_script(script, "first", tmp_path / "ckpt", total, split)
    finish(first)
    ckpt = tmp_path / "ckpt" / f"iter_{split}.pth"
    assert ckpt.is_file()
    second = run_script(script, "second", ckpt, total, split)
    finish(straight)
    finish(second)

    a = torch.load(str(tmp_path / "straight") + ".result", weights_only=True)
    b = torch.load(str(ckpt) + ".result", weights_only=True)
    assert (a["iter"], a["epoch"]) == (b["iter"], b["epoch"]) == (20, 3)
    assert a["lr"] == b["lr"]
    assert a["weights"].keys() == b["weights"].keys()
    for key, value in a["weights"].items():  # conv, BN (incl. running stats), linear
        assert torch.equal(value, b["weights"][key]), key
    saved = torch.load(ckpt, weights_only=True)
    assert (saved["epoch"], saved["sampler"]["position"]) == (1, 16)  # mid-epoch split
    # The run really changed the weights (a resume that did nothing would also be "equal"
    # to an untrained model, but not to the straight run's result).
    assert not torch.equal(saved["state_dict"]["0.weight"], a["weights"]["0.weight"])


# --------------------------------------------------------------------------------------
# A killed save loses nothing
# --------------------------------------------------------------------------------------

SAVE_BIG = textwrap.dedent(
    """
    import sys

    import torch
    from torch import nn

    from knowledge.training import save_checkpoint

    model = nn.Linear(1, 1)
    model.register_buffer("big", torch.ones(50_000_000))  # 200 MB of float32
    print("ready", flush=True)
    if sys.argv[2] == "atomic":
        save_checkpoint(sys.argv[1], model=model, iteration=2)
    else:  # what a plain torch.save over the old file does
        torch.save({"state_dict": model.state_dict()}, sys.argv[1])
    """
)


def kill_during_save(tmp_path: Path, target: Path, how: str) -> None:
    """Starts a 200 MB save over ``target`` and SIGKILLs it while the data are written."""
    script = tmp_path / "save_big.py"
    script.write_text(SAVE_BIG)
    proc = run_script(script, target, how)
    assert proc.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if how == "atomic":  # the temporary file being written
            partial = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        else:  # torch.save truncates and rewrites the target itself
            partial = [target]
        try:
            if partial and partial[0].stat().st_size > 1_000_000:  # well inside the write
                break
        except FileNotFoundError:  # renamed between listing and stat
            pass
        if proc.poll() is not None:
            pytest.fail("the 200 MB save finished before it could be interrupted")
        time.sleep(0.001)
    else:
        proc.kill()
        pytest.fail("the save never started")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))


def test_a_killed_atomic_save_keeps_the_previous_checkpoint(tmp_path):
    target = tmp_path / "latest.pth"
    original = small_model()
    save_checkpoint(target, model=original, iteration=1)
    kill_during_save(tmp_path, target, "atomic")
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1  # the half-written temporary file stays behind ...
    assert 0 < leftovers[0].stat().st_size < 200_000_000
    restored = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    state = resume(target, restored)  # ... while the checkpoint itself is intact
    assert state.iteration == 1
    for a, b in zip(original.state_dict().values(), restored.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_control_a_killed_plain_torch_save_destroys_the_file(tmp_path):
    # The same kill against torch.save writing in place: the old checkpoint is gone and the
    # new one unreadable. This shows the kill above really lands in the middle of a write.
    target = tmp_path / "latest.pth"
    save_checkpoint(target, model=small_model(), iteration=1)
    kill_during_save(tmp_path, target, "plain")
    with pytest.raises(CheckpointError, match=r"latest\.pth .* is truncated or corrupt"):
        resume(target, small_model())


# --------------------------------------------------------------------------------------
# Bad files are reported clearly
# --------------------------------------------------------------------------------------


def test_truncated_file_names_the_path(tmp_path):
    good = save_checkpoint(tmp_path / "good.pth", model=small_model())
    data = good.read_bytes()
    bad = tmp_path / "epoch_12.pth"
    bad.write_bytes(data[: len(data) // 2])
    for load in (lambda: load_weights(bad, small_model()), lambda: resume(bad, small_model())):
        with pytest.raises(CheckpointError) as info:
            load()
        message = str(info.value)
        assert str(bad) in message
        assert "truncated or corrupt" in message
        # torch's own cause follows, first line only: depending on the size, an OSError
        # "[Errno 22] Invalid argument" or a RuntimeError from PytorchStreamReader
        assert "OSError: [Errno 22]" in message or "RuntimeError: PytorchStreamReader" in message
    # torch alone does not say which file
    with pytest.raises((RuntimeError, OSError)) as raw:
        torch.load(bad, weights_only=True)
    assert str(bad) not in str(raw.value)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all" * 10, b"PK\x03\x04"])
def test_empty_or_garbage_files(tmp_path, content):
    bad = tmp_path / "x.pth"
    bad.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"x\.pth .*(is truncated or|is) corrupt"):
        load_weights(bad, small_model())


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.pth does not exist"):
        load_weights(tmp_path / "nope.pth", small_model())


class Evil:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_code_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    with path.open("wb") as f:  # a legacy (non-zip) pickle is just as dangerous
        pickle.dump({"state_dict": {}, "payload": Evil(str(marker))}, f, protocol=2)
    torch.save({"state_dict": small_model().state_dict(), "x": Evil(str(marker))}, tmp_path / "z")
    for p in (path, tmp_path / "z"):
        with pytest.raises(CheckpointError, match=r"pickled Python object \(\S*open\)"):
            load_weights(p, small_model())
    assert not marker.exists()


def test_non_dict_checkpoint(tmp_path):
    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="holds a list, expected a dict"):
        load_weights(tmp_path / "list.pth", small_model())


# --------------------------------------------------------------------------------------
# load_weights
# --------------------------------------------------------------------------------------


class Net(nn.Module):
    def __init__(self, num_classes: int = 5, extra: bool = False):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.head = nn.Conv2d(4, num_classes, 1)
        if extra:
            self.aux = nn.Conv2d(4, 2, 1)


def randomized(model: nn.Module, seed: int) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen))
    return model


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: sd,  # a bare state dict
        lambda sd: {"state_dict": sd, "meta": {"epoch": 3}},  # mmengine / this module
        lambda sd: {"model": sd, "epoch": 3},  # torchvision reference scripts
        lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}},  # DDP
        lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}},
    ],
)
def test_load_weights_layouts(tmp_path, wrap):
    src = randomized(Net(), 1)
    torch.save(wrap(src.state_dict()), tmp_path / "w.pth")
    dst = Net()
    result = load_weights(tmp_path / "w.pth", dst)
    assert (result.missing_keys, result.unexpected_keys, result.mismatched_keys) == ([], [], [])
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k


def test_load_weights_into_a_ddp_style_wrapper(tmp_path):
    src = randomized(Net(), 2)
    save_checkpoint(tmp_path / "w.pth", model=nn.DataParallel(src))  # saved unwrapped
    saved = torch.load(tmp_path / "w.pth", weights_only=True)["state_dict"]
    assert not any(k.startswith("module.") for k in saved)
    dst = nn.DataParallel(Net())
    load_weights(tmp_path / "w.pth", dst)
    assert torch.equal(dst.module.head.weight, src.head.weight)


def test_missing_and_unexpected_keys_match_torchs_report(tmp_path):
    src = randomized(Net(extra=True), 3)
    state = src.state_dict()
    del state["backbone.1.running_var"]
    torch.save({"state_dict": state}, tmp_path / "w.pth")
    # Oracle: torch's own report for the same state dict.
    expected = Net().load_state_dict(state, strict=False)
    dst = Net()
    result = load_weights(tmp_path / "w.pth", dst, strict=False)
    assert result.missing_keys == expected.missing_keys == ["backbone.1.running_var"]
    assert result.unexpected_keys == expected.unexpected_keys == ["aux.weight", "aux.bias"]
    assert result.mismatched_keys == []
    assert torch.equal(dst.head.weight, src.head.weight)
    with pytest.raises(CheckpointError) as info:
        load_weights(tmp_path / "w.pth", Net())
    message = str(info.value)
    for key in ("backbone.1.running_var", "aux.weight", "aux.bias", "w.pth", "strict=False"):
        assert key in message


def test_finetuning_with_another_number_of_classes(tmp_path):
    src = randomized(Net(num_classes=150), 4)
    save_checkpoint(tmp_path / "ade.pth", model=src)
    dst = Net(num_classes=19)
    head_before = dst.head.weight.clone()
    with pytest.raises(
        CheckpointError, match=r"shape of head\.weight: checkpoint \(150, 4, 1, 1\)"
    ):
        load_weights(tmp_path / "ade.pth", dst)
    assert torch.equal(dst.head.weight, head_before)  # strict failure loads nothing
    result = load_weights(tmp_path / "ade.pth", dst, strict=False)
    assert result.mismatched_keys == ["head.weight", "head.bias"]
    assert result.missing_keys == result.unexpected_keys == []
    assert torch.equal(dst.backbone[0].weight, src.backbone[0].weight)
    assert torch.equal(dst.head.weight, head_before)


# --------------------------------------------------------------------------------------
# resume and save details
# --------------------------------------------------------------------------------------


def test_rng_states_round_trip(tmp_path):
    torch.manual_seed(5)
    random.seed(5)
    np.random.seed(5)
    np.random.standard_normal()  # leave a cached Gaussian in NumPy's state
    random.gauss(0, 1)  # and in Python's
    path = save_checkpoint(tmp_path / "r.pth", model=small_model())
    expected = (torch.rand(3), random.random(), random.gauss(0, 1), np.random.standard_normal(2))
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    resume(path, small_model())
    got = (torch.rand(3), random.random(), random.gauss(0, 1), np.random.standard_normal(2))
    assert torch.equal(got[0], expected[0])
    assert got[1:3] == expected[1:3]
    assert np.array_equal(got[3], expected[3])


def test_resume_restores_optimizer_scheduler_and_sampler(tmp_path):
    model = small_model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    sampler = ResumableSampler(10, seed=2)
    for _ in range(3):
        model(torch.randn(4, 4)).sum().backward()
        opt.step()
        sched.step()
    sampler.set_epoch(4)
    sampler.advance(6)
    path = save_checkpoint(
        tmp_path / "c.pth",
        model=model,
        optimizer=opt,
        scheduler=sched,
        iteration=3,
        epoch=4,
        sampler_state=sampler.state_dict(),
        meta={"config": {"lr": 1e-3, "crop": [512, 512]}},
    )
    model2 = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    opt2 = torch.optim.AdamW(model2.parameters(), lr=1e-3)
    sched2 = torch.optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    sampler2 = ResumableSampler(10, seed=2)
    state = resume(path, model2, opt2, sched2, sampler=sampler2)
    assert (state.iteration, state.epoch) == (3, 4)
    assert state.meta["config"] == {"lr": 1e-3, "crop": [512, 512]}
    assert state.meta["torch_version"] == str(torch.__version__)
    assert sched2.state_dict() == sched.state_dict()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 5e-4
    for p, p2 in zip(model.parameters(), model2.parameters(), strict=True):
        assert torch.equal(opt.state[p]["exp_avg_sq"], opt2.state[p2]["exp_avg_sq"])
    assert (sampler2.epoch, sampler2.position) == (4, 6)


def test_resume_refuses_partial_restores(tmp_path):
    weights_only = save_checkpoint(tmp_path / "w.pth", model=small_model())
    model = small_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(CheckpointError, match=r"has no optimizer state to resume from"):
        resume(weights_only, model, opt)
    full = save_checkpoint(
        tmp_path / "full.pth",
        model=model,
        optimizer=opt,
        scheduler=torch.optim.lr_scheduler.StepLR(opt, 3),
    )
    with pytest.raises(ValueError, match=r"holds a scheduler state but scheduler=None"):
        resume(full, model, opt)
    torch.save({"state_dict": model.state_dict()}, tmp_path / "foreign.pth")
    with pytest.raises(CheckpointError, match="not written by save_checkpoint"):
        resume(tmp_path / "foreign.pth", model)
    with pytest.raises(CheckpointError, match="does not match Sequential"):
        resume(weights_only, nn.Sequential(nn.Linear(4, 3)))


def test_save_rejects_values_that_could_not_be_loaded(tmp_path):
    target = tmp_path / "c.pth"
    save_checkpoint(target, model=small_model(), iteration=1)
    before = target.read_bytes()
    with pytest.raises(TypeError, match=r"meta\['when'\] is a datetime"):
        import datetime

        save_checkpoint(target, model=small_model(), meta={"when": datetime.datetime(2024, 1, 1)})
    with pytest.raises(TypeError, match=r"meta\['cfg'\]\['size'\] is a ndarray"):
        save_checkpoint(target, model=small_model(), meta={"cfg": {"size": np.zeros(2)}})
    with pytest.raises(ValueError, match="iteration must be an int >= 0"):
        save_checkpoint(target, model=small_model(), iteration=-1)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pth"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "c.pth"
    save_checkpoint(target, model=small_model(), iteration=1)
    before = target.read_bytes()

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(target, model=small_model(), iteration=2)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pth"]
