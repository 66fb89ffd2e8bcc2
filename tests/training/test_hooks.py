"""Tests for knowledge.training.hooks.

Oracles: the model's own submodules run one by one (features), output sizes worked by hand
with the convolution formula (shape tracer), parameter counts from ``p.numel()``, a plain
PyTorch loop that reads ``scheduler.get_last_lr()`` (LR records), losses averaged by hand
(logger), and torch's own behaviour for the pitfalls the page shows.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from knowledge.training import (
    CheckpointHook,
    FeatureExtractor,
    Hook,
    LoggerHook,
    LrRecorderHook,
    ResumableSampler,
    Runner,
    ShapeRow,
    trace_shapes,
)


def small_cnn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),  # 0
        nn.BatchNorm2d(8),  # 1
        nn.ReLU(),  # 2
        nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU()),  # 3.0, 3.1
        nn.MaxPool2d(2),  # 4
        nn.Flatten(),  # 5
        nn.Linear(16 * 4 * 4, 10),  # 6
    )


def forward_hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


# --------------------------------------------------------------------------------------
# FeatureExtractor
# --------------------------------------------------------------------------------------


def test_feature_extractor_returns_the_intermediate_outputs():
    model = small_cnn().eval()
    x = torch.randn(2, 3, 16, 16)
    with FeatureExtractor(model, ["1", "3.0", "4"]) as feats:
        out = model(x)
    # Oracle: run the children one at a time and keep the same outputs.
    h0 = model[0](x)
    h1 = model[1](h0)
    h3_0 = model[3][0](model[2](h1))
    h4 = model[4](model[3][1](h3_0))
    assert list(feats) == ["1", "3.0", "4"]
    assert torch.equal(feats["1"], h1)
    assert torch.equal(feats["3.0"], h3_0)
    assert torch.equal(feats["4"], h4)
    assert torch.equal(out, model[6](model[5](h4)))
    assert not feats["4"].requires_grad  # detached by default
    assert forward_hook_count(model) == 0


def test_feature_extractor_can_keep_the_graph():
    model = small_cnn()
    with FeatureExtractor(model, ["0"], detach=False) as feats:
        model(torch.randn(2, 3, 16, 16))
    feats["0"].sum().backward()  # a loss on an intermediate feature map
    assert model[0].weight.grad is not None


def test_feature_extractor_removes_hooks_on_exception():
    model = small_cnn()
    with pytest.raises(RuntimeError), FeatureExtractor(model, ["0", "6"]):
        assert forward_hook_count(model) == 2
        model(torch.randn(2, 3, 7, 7))  # wrong size for the Linear layer: raises
    assert forward_hook_count(model) == 0


def test_feature_extractor_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"unknown layer names \['layer9'\]"):
        FeatureExtractor(small_cnn(), ["0", "layer9"])
    with pytest.raises(TypeError, match="list of names"):
        FeatureExtractor(small_cnn(), "0")


# --------------------------------------------------------------------------------------
# trace_shapes
# --------------------------------------------------------------------------------------


def test_trace_shapes_rows():
    model = small_cnn()
    rows = trace_shapes(model, torch.zeros(2, 3, 16, 16))
    # conv0: floor((16 + 2*1 - 3) / 2) + 1 = 8; conv3.0 keeps 8; max pool /2 -> 4; 16*4*4 = 256
    expected = [
        ("0", "Conv2d", (2, 3, 16, 16), (2, 8, 8, 8), 3 * 8 * 9 + 8),
        ("1", "BatchNorm2d", (2, 8, 8, 8), (2, 8, 8, 8), 16),
        ("2", "ReLU", (2, 8, 8, 8), (2, 8, 8, 8), 0),
        ("3.0", "Conv2d", (2, 8, 8, 8), (2, 16, 8, 8), 8 * 16 * 9 + 16),
        ("3.1", "ReLU", (2, 16, 8, 8), (2, 16, 8, 8), 0),
        ("4", "MaxPool2d", (2, 16, 8, 8), (2, 16, 4, 4), 0),
        ("5", "Flatten", (2, 16, 4, 4), (2, 256), 0),
        ("6", "Linear", (2, 256), (2, 10), 256 * 10 + 10),
    ]
    assert [tuple(r) for r in rows] == expected
    assert all(isinstance(r, ShapeRow) for r in rows)
    assert sum(r.params for r in rows) == sum(p.numel() for p in model.parameters())


def test_trace_shapes_leaves_the_model_untouched():
    model = small_cnn().train()
    model[3].eval()  # a mixed state must come back exactly
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trace_shapes(model, torch.randn(4, 3, 16, 16))
    assert forward_hook_count(model) == 0
    assert [m.training for m in model.modules()] == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        True,
        True,
        True,
    ]
    for k, v in model.state_dict().items():  # BN running stats untouched
        assert torch.equal(v, before[k]), k


def test_trace_shapes_repeats_shared_modules_and_handles_tuples():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)
            self.lstm = nn.LSTM(4, 3, batch_first=True)

        def forward(self, x):
            y = self.lin(self.lin(x))
            out, _ = self.lstm(y)
            return out

    rows = trace_shapes(Twice(), torch.zeros(2, 5, 4))
    assert [r.name for r in rows] == ["lin", "lin", "lstm"]
    # the LSTM returns (output, (h, c)): nested shapes are listed
    assert rows[2].output_shape == [(2, 5, 3), [(1, 2, 3), (1, 2, 3)]]


# --------------------------------------------------------------------------------------
# PyTorch hook facts the page relies on
# --------------------------------------------------------------------------------------


def test_forgotten_handle_keeps_storing_until_removed():
    model = small_cnn().eval()
    stored = []
    handle = model[3].register_forward_hook(lambda m, args, out: stored.append(out))
    for _ in range(5):
        model(torch.randn(1, 3, 16, 16))
    assert len(stored) == 5
    handle.remove()
    model(torch.randn(1, 3, 16, 16))
    assert len(stored) == 5


def test_full_backward_hook_with_inplace_relu_raises():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True))
    net[0].register_full_backward_hook(lambda module, grad_in, grad_out: None)
    x = torch.randn(1, 1, 5, 5, requires_grad=True)
    with pytest.raises(RuntimeError, match="BackwardHookFunction is a view and is being modified"):
        net(x)  # raised in the forward pass, at the in-place ReLU
    safe = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    grads = []
    safe[0].register_full_backward_hook(lambda m, gi, go: grads.append(go[0]))
    safe(x).sum().backward()
    assert grads[0].shape == (1, 2, 3, 3)


def test_backward_hook_sees_the_gradient_of_the_output():
    # Oracle: torch.autograd.grad with respect to the same intermediate output.
    torch.manual_seed(0)
    lin1, lin2 = nn.Linear(3, 4), nn.Linear(4, 2)
    seen = []
    lin1.register_full_backward_hook(lambda m, gi, go: seen.append(go[0]))
    x = torch.randn(5, 3, requires_grad=True)  # else torch warns that no input needs a grad
    h = lin1(x)
    loss = lin2(torch.tanh(h)).pow(2).sum()
    (expected,) = torch.autograd.grad(loss, h, retain_graph=True)
    loss.backward()
    assert torch.allclose(seen[0], expected)


# --------------------------------------------------------------------------------------
# Loop hooks
# --------------------------------------------------------------------------------------


def mse(model, batch):
    return nn.functional.mse_loss(model(batch[0]), batch[1])


def build(max_iters=10, hooks=(), n=12, batch_size=4):
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(n, 3), torch.randn(n, 1))
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[3, 7], gamma=0.1)
    loader = DataLoader(data, batch_size=batch_size, sampler=ResumableSampler(n))
    return Runner(
        model, opt, loader, loss_fn=mse, scheduler=sched, max_iters=max_iters, hooks=hooks
    )


class LossSpy(Hook):
    def __init__(self):
        self.losses = []

    def after_train_iter(self, runner):
        self.losses.append(runner.outputs["loss"])


def test_lr_recorder_matches_the_scheduler():
    lrs = LrRecorderHook()
    build(hooks=[lrs]).run()
    # Oracle: the LR each step used, read with get_last_lr() in a plain loop.
    opt = torch.optim.SGD(nn.Linear(3, 1).parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[3, 7], gamma=0.1)
    expected = []
    for _ in range(10):
        expected.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert lrs.lrs == expected
    # by hand: 0.1 for iterations 0-2, 0.01 for 3-6, 0.001 for 7-9
    assert lrs.lrs == pytest.approx([0.1] * 3 + [0.01] * 4 + [0.001] * 3, rel=1e-12)


def test_logger_hook_averages_the_loss_over_each_interval():
    spy, logger = LossSpy(), LoggerHook(interval=4)
    lrs = LrRecorderHook()
    build(max_iters=10, hooks=[spy, logger, lrs]).run()
    losses = spy.losses
    assert [r["iter"] for r in logger.records] == [4, 8]  # iteration 10 is not a multiple of 4
    assert [r["epoch"] for r in logger.records] == [1, 2]  # 3 iterations per epoch
    assert logger.records[0]["loss"] == pytest.approx(sum(losses[0:4]) / 4)
    assert logger.records[1]["loss"] == pytest.approx(sum(losses[4:8]) / 4)
    assert [r["lr"] for r in logger.records] == [lrs.lrs[3], lrs.lrs[7]]


def test_checkpoint_hook_saves_every_interval(tmp_path):
    hook = CheckpointHook(interval=3, out_dir=tmp_path / "ckpt")
    build(max_iters=10, hooks=[hook]).run()
    assert [p.name for p in hook.saved] == ["iter_3.pth", "iter_6.pth", "iter_9.pth"]
    data = torch.load(hook.saved[1], weights_only=True)
    # Iteration 6 is the last of epoch 1 (3 per epoch). The hook runs in after_train_iter,
    # before after_train_epoch closes the epoch, so the counter still says 1 and the
    # sampler is at the end of epoch 1's 12 samples.
    assert (data["iteration"], data["epoch"]) == (6, 1)
    assert (data["sampler"]["epoch"], data["sampler"]["position"]) == (1, 12)
    assert data["scheduler"]["last_epoch"] == 6
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "iter_3.pth",
        "iter_6.pth",
        "iter_9.pth",
    ]


def test_hook_arguments_are_checked():
    with pytest.raises(ValueError, match="interval must be >= 1, got 0"):
        LoggerHook(interval=0)
    with pytest.raises(TypeError, match="interval must be an int"):
        CheckpointHook(interval=2.5, out_dir=".")
