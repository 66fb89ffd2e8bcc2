import tempfile
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from knowledge.training import CheckpointHook, ResumableSampler, Runner, load_weights, resume

TOTAL, SPLIT = 20, 10  # 22 samples, batch 4: 6 iterations per epoch -> split inside epoch 1
THREADS = torch.get_num_threads()
torch.set_num_threads(1)  # every run below uses the same thread count (see the last rows)


def build():
    """Everything a training script builds before its loop, from the same seed."""
    torch.manual_seed(0)
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
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=50)
    loader = DataLoader(data, batch_size=4, sampler=ResumableSampler(22, seed=1))
    return model, optimizer, scheduler, loader


def make_runner(parts, max_iters, hooks=()):
    model, optimizer, scheduler, loader = parts
    return Runner(
        model,
        optimizer,
        loader,
        scheduler=scheduler,
        max_iters=max_iters,
        loss_fn=lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1]),
        hooks=hooks,
    )


def report(name, parts, reference):
    """Compares every weight and buffer of parts with the reference run."""
    model, optimizer = parts[0], parts[1]
    pairs = list(zip(model.state_dict().values(), reference[0].state_dict().values(), strict=True))
    equal = all(torch.equal(a, b) for a, b in pairs)
    diff = max((a.double() - b.double()).abs().max().item() for a, b in pairs)
    lr = optimizer.param_groups[0]["lr"]
    print(f"{name:<40} {equal!s:<14} {diff:<10.1e} {lr:.6f}")


straight = build()
make_runner(straight, TOTAL).run()

with tempfile.TemporaryDirectory() as tmp:
    hook = CheckpointHook(interval=SPLIT, out_dir=tmp)
    make_runner(build(), SPLIT, [hook]).run()  # first half, saves iter_10.pth
    ckpt = Path(hook.saved[0])

    def resumed(after_resume=None):
        parts = build()  # as in a fresh process
        torch.manual_seed(1234)  # whatever RNG state the new process happens to have
        model, optimizer, scheduler, loader = parts
        state = resume(ckpt, model, optimizer, scheduler, sampler=loader.sampler)
        if after_resume:
            after_resume()
        runner = make_runner(parts, TOTAL)
        runner.iter, runner.epoch = state.iteration, state.epoch
        runner.run()
        return parts

    print(f"straight run of {TOTAL} iterations: final lr {straight[1].param_groups[0]['lr']:.6f}")
    print(f"{'compared with it':<40} {'bitwise equal':<14} {'max |dw|':<10} final lr")
    report("10 + save + resume + 10", resumed(), straight)
    report("... RNG states not restored", resumed(lambda: torch.manual_seed(1234)), straight)
    report(
        "... resumed with 2 threads instead of 1",
        resumed(lambda: torch.set_num_threads(2)),
        straight,
    )
    torch.set_num_threads(1)

    finetune = build()  # load_from: weights only, then a NEW run of 10 iterations
    load_weights(ckpt, finetune[0])
    make_runner(finetune, TOTAL - SPLIT).run()
    report("load_from + 10 (not a resume)", finetune, straight)
torch.set_num_threads(THREADS)  # leave the process as we found it
