"""Tests for knowledge.training.vanishing_gradients against independent oracles.

Oracles: ``param.grad`` after an ordinary ``loss.backward()`` and ``torch.autograd.grad`` with
respect to intermediate activations (paths without any hook), torch's own autograd of
``torch.sigmoid``, a three-layer scalar chain differentiated by hand in plain Python, the
closed-form formulas of each variant's layer, and the init variances from the papers.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from knowledge.training import (
    DEEP_MLP_VARIANTS,
    GradNormRecorder,
    layer_grad_norms,
    make_deep_mlp,
)


def batch(
    seed: int = 0, n: int = 64, d: int = 32, k: int = 10
) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen), torch.randint(0, k, (n,), generator=gen)


def net(variant: str, seed: int = 0, **kwargs: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return make_deep_mlp(variant, **kwargs)


def assert_no_hooks(model: nn.Module) -> None:
    for name, m in model.named_modules():
        for attr in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks"):
            assert not getattr(m, attr), f"{name or 'model'}.{attr} is not empty"
        assert not m._backward_pre_hooks, f"{name or 'model'}._backward_pre_hooks is not empty"
    for name, p in model.named_parameters():
        assert not p._backward_hooks, f"parameter {name} still has a tensor hook"


def param_grad_norms(model: nn.Module) -> list[tuple[str, float]]:
    """Oracle for of='weight': norms of .grad after loss.backward(), per direct child."""
    out = []
    for name, child in model.named_children():
        sq = sum(float(p.grad.double().norm()) ** 2 for p in child.parameters())
        out.append((name, math.sqrt(sq)))
    return out


# --------------------------------------------------------------------------------------
# Hook-collected norms vs paths without hooks
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", DEEP_MLP_VARIANTS)
def test_weight_norms_equal_param_grad_after_backward(variant):
    model = net(variant, depth=6, width=16)
    x, y = batch()
    ours = layer_grad_norms(model, x, y)
    assert all(p.grad is None for p in model.parameters()), "layer_grad_norms touched .grad"
    assert_no_hooks(model)

    F.cross_entropy(model(x), y).backward()  # the ordinary path: no hooks at all
    oracle = param_grad_norms(model)
    assert [n for n, _ in ours] == [n for n, _ in oracle]
    for (name, a), (_, b) in zip(ours, oracle, strict=True):
        assert a == pytest.approx(b, rel=1e-6), name


@pytest.mark.parametrize("variant", DEEP_MLP_VARIANTS)
def test_output_norms_equal_autograd_grad_of_activations(variant):
    model = net(variant, depth=6, width=16)
    x, y = batch(1)
    ours = layer_grad_norms(model, x, y, of="output")
    assert_no_hooks(model)

    # Oracle: run the children by hand, keep every activation, differentiate w.r.t. them.
    names, acts, h = [], [], x
    for name, child in model.named_children():
        h = child(h)
        names.append(name)
        acts.append(h)
    grads = torch.autograd.grad(F.cross_entropy(h, y), acts)
    oracle = [float(g.double().norm()) for g in grads]
    assert [n for n, _ in ours] == names
    for (name, a), b in zip(ours, oracle, strict=True):
        assert a == pytest.approx(b, rel=1e-6), name


def test_recorder_in_a_training_loop_matches_param_grad_each_step():
    model = net("bn", depth=4, width=16)
    layers = ["layer1", "layer4"]
    with GradNormRecorder(model, layers=layers) as rec:
        for step in range(3):
            x, y = batch(step)
            model.zero_grad()
            F.cross_entropy(model(x), y).backward()
            oracle = dict(param_grad_norms(model))
            for name, value in rec.norms:
                assert value == pytest.approx(oracle[name], rel=1e-6), (step, name)
            with torch.no_grad():  # plain SGD, so that the next step sees new weights
                for p in model.parameters():
                    p -= 0.5 * p.grad
    assert_no_hooks(model)


def test_recorder_sees_each_backward_not_the_accumulated_grad():
    model = net("relu", depth=3, width=8)
    x, y = batch()
    with GradNormRecorder(model) as rec:
        F.cross_entropy(model(x), y).backward()
        first = rec.norms
        F.cross_entropy(model(x), y).backward()  # .grad now holds twice the gradient
        second = rec.norms
    assert [v for _, v in second] == pytest.approx([v for _, v in first], rel=1e-6)
    doubled = param_grad_norms(model)
    for (_, a), (_, b) in zip(first, doubled, strict=True):
        assert b == pytest.approx(2 * a, rel=1e-6)


def test_recorder_ignores_backward_after_exit():
    model = net("sigmoid", depth=3, width=8)
    for of in ("weight", "output"):
        x, y = batch()
        with GradNormRecorder(model, of=of) as rec:
            F.cross_entropy(model(x), y).backward()
            out = model(x)  # a graph built inside the block, differentiated after it
        before = rec.norms
        (out * 1000).sum().backward()
        F.cross_entropy(model(2 * x), y).backward()
        assert rec.norms == before
        assert_no_hooks(model)


# --------------------------------------------------------------------------------------
# The chain-rule facts the page relies on
# --------------------------------------------------------------------------------------


def test_sigmoid_derivative_is_at_most_one_quarter():
    x = (torch.arange(-300_000, 300_001, dtype=torch.float64) / 10_000).requires_grad_()
    s = torch.sigmoid(x)
    (grad,) = torch.autograd.grad(s.sum(), x)  # torch's own backward of sigmoid
    s = s.detach()
    assert torch.allclose(grad, s * (1 - s), rtol=0, atol=1e-15)  # sigma' = sigma (1 - sigma)
    assert float(grad.max()) <= 0.25
    # the maximum is attained at x = 0, where sigma = 1/2: 1/2 * 1/2 = 1/4 exactly
    assert float(grad[300_000]) == 0.25 and float(x.detach()[300_000]) == 0.0
    # p (1 - p) = 1/4 - (p - 1/2)^2, checked in plain Python on a grid of p
    for i in range(1001):
        p = i / 1000
        assert p * (1 - p) <= 0.25


def _sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_scalar_sigmoid_chain_matches_product_of_derivatives_worked_by_hand():
    # A 1-wide chain: h1 = s(2 x), h2 = s(-h1 + 0.5), h3 = s(3 h2), out = 0.5 h3, loss = out.
    # Backward by hand, one factor w_l * s'(z_l) per layer:
    #   dL/dh3 = 0.5
    #   dL/dh2 = dL/dh3 * s'(z3) * 3
    #   dL/dh1 = dL/dh2 * s'(z2) * (-1)
    #   dL/dx  = dL/dh1 * s'(z1) * 2,   |dL/dx| <= 0.5 * |3 * -1 * 2| * (1/4)^3 = 3/64
    # and for the parameters of layer l: dL/dw_l = dL/dz_l * h_{l-1}, dL/db_l = dL/dz_l.
    model = make_deep_mlp("sigmoid", depth=3, width=1, in_features=1, out_features=1).double()
    weights, biases = [2.0, -1.0, 3.0, 0.5], [0.0, 0.5, 0.0, 0.0]
    linears = [model.layer1.linear, model.layer2.linear, model.layer3.linear, model.head]
    with torch.no_grad():
        for lin, w, b in zip(linears, weights, biases, strict=True):
            lin.weight.fill_(w)
            lin.bias.fill_(b)
    x_val = 1.0

    # plain-Python forward
    z1 = 2.0 * x_val
    h1 = _sig(z1)
    z2 = -1.0 * h1 + 0.5
    h2 = _sig(z2)
    z3 = 3.0 * h2
    h3 = _sig(z3)

    def ds(z: float) -> float:
        return _sig(z) * (1 - _sig(z))

    g_h3 = 0.5
    g_z3 = g_h3 * ds(z3)
    g_h2 = g_z3 * 3.0
    g_z2 = g_h2 * ds(z2)
    g_h1 = g_z2 * -1.0
    g_z1 = g_h1 * ds(z1)
    g_x = g_z1 * 2.0
    assert abs(g_x) <= 3 / 64

    x = torch.tensor([[x_val]], dtype=torch.float64, requires_grad=True)
    y = torch.zeros(1)

    def loss_fn(out: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
        return out.sum()

    outputs = dict(layer_grad_norms(model, x, y, loss_fn=loss_fn, of="output"))
    assert outputs["layer3"] == pytest.approx(abs(g_h3), rel=1e-12)
    assert outputs["layer2"] == pytest.approx(abs(g_h2), rel=1e-12)
    assert outputs["layer1"] == pytest.approx(abs(g_h1), rel=1e-12)

    weights_norm = dict(layer_grad_norms(model, x, y, loss_fn=loss_fn))
    for name, g_z, h_prev in (("layer1", g_z1, x_val), ("layer2", g_z2, h1), ("layer3", g_z3, h2)):
        assert weights_norm[name] == pytest.approx(math.hypot(g_z * h_prev, g_z), rel=1e-12)
    assert weights_norm["head"] == pytest.approx(math.hypot(h3, 1.0), rel=1e-12)

    (g_x_torch,) = torch.autograd.grad(model(x).sum(), x)
    assert float(g_x_torch) == pytest.approx(g_x, rel=1e-12)


def test_residual_block_jacobian_is_identity_plus_branch_jacobian():
    model = net("residual", depth=2, width=5, in_features=5)
    block = model.layer2
    h = torch.randn(5, dtype=torch.float64)
    block = block.double()
    jac = torch.autograd.functional.jacobian(lambda v: block(v.unsqueeze(0)).squeeze(0), h)
    w = block.linear.weight.detach()
    s = torch.sigmoid(h)
    expected = torch.eye(5, dtype=torch.float64) + w * (s * (1 - s))  # I + W diag(s'(h))
    assert torch.allclose(jac, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("variant", DEEP_MLP_VARIANTS)
def test_each_variant_computes_its_documented_formula(variant):
    model = net(variant, depth=2, width=6, in_features=4, out_features=3)
    x = torch.randn(8, 4)
    h = x
    for name in ("layer1", "layer2"):
        block = getattr(model, name)
        w, b = block.linear.weight, block.linear.bias
        if variant == "sigmoid":
            h = torch.sigmoid(h @ w.T + b)
        elif variant == "relu":
            h = torch.clamp(h @ w.T + b, min=0)
        elif variant == "bn":
            assert b is None
            z = h @ w.T
            mean, var = z.mean(0), z.var(0, unbiased=False)  # training mode: batch statistics
            h = torch.sigmoid((z - mean) / torch.sqrt(var + block.norm.eps))
        else:
            skip = h @ block.shortcut.weight.T if name == "layer1" else h  # projection 4 -> 6
            h = skip + torch.sigmoid(h) @ w.T + b
    expected = h @ model.head.weight.T + model.head.bias
    assert torch.allclose(model(x), expected, atol=1e-5)


@pytest.mark.parametrize(("variant", "gain_sq"), [("sigmoid", None), ("relu", 2.0)])
def test_init_variances_follow_glorot_and_he(variant, gain_sq):
    model = net(variant, depth=2, width=512, in_features=512)
    w = model.layer2.linear.weight.detach().double()
    # Glorot & Bengio: Var = 2 / (fan_in + fan_out); He et al.: Var = 2 / fan_in
    expected = 2 / (512 + 512) if gain_sq is None else gain_sq / 512
    assert float(w.var()) == pytest.approx(expected, rel=0.02)
    assert float(w.mean()) == pytest.approx(0.0, abs=3 * math.sqrt(expected / w.numel()))
    assert torch.count_nonzero(model.layer2.linear.bias) == 0


# --------------------------------------------------------------------------------------
# The qualitative picture (seeded, wide margins)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigmoid_vanishes_and_the_fixes_do_not(seed):
    x, y = batch(seed, n=128)
    layers = [f"layer{i}" for i in range(1, 21)]
    ratio = {}
    for variant in DEEP_MLP_VARIANTS:
        norms = layer_grad_norms(net(variant, seed), x, y, layers=layers)
        ratio[variant] = norms[0][1] / norms[-1][1]
    assert ratio["sigmoid"] < 1e-6  # orders of magnitude: about 0.25 per layer over 19 layers
    assert 1e-1 < ratio["residual"] < 1e1
    assert ratio["relu"] > 1e-2
    assert ratio["bn"] > 1e-2


# --------------------------------------------------------------------------------------
# Hook hygiene and errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("of", ["weight", "output"])
def test_hooks_are_removed_when_the_loss_raises(of):
    model = net("residual", depth=3, width=8)
    x, y = batch()

    def bad_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        layer_grad_norms(model, x, y, loss_fn=bad_loss, of=of)
    assert_no_hooks(model)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2|shape"):
        layer_grad_norms(model, torch.randn(4, 7), y[:4], of=of)  # wrong in_features
    assert_no_hooks(model)
    with pytest.raises(ValueError, match="scalar"):
        layer_grad_norms(model, x, y, loss_fn=lambda o, t: o, of=of)
    assert_no_hooks(model)


def test_recorder_removes_hooks_when_the_block_raises():
    model = net("bn", depth=2, width=8)
    with pytest.raises(KeyError), GradNormRecorder(model, of="output"):
        model(batch()[0])
        raise KeyError("inside")
    assert_no_hooks(model)


def test_make_deep_mlp_errors():
    with pytest.raises(ValueError, match=r"'sigmoid', 'relu', 'bn', 'residual', got 'tanh'"):
        make_deep_mlp("tanh")
    with pytest.raises(ValueError, match=r"depth must be >= 1, got 0"):
        make_deep_mlp("relu", depth=0)
    with pytest.raises(TypeError, match=r"depth must be an int, got True"):
        make_deep_mlp("relu", depth=True)
    with pytest.raises(TypeError, match=r"width must be an int, got 8\.0"):
        make_deep_mlp("relu", width=8.0)
    with pytest.raises(ValueError, match=r"in_features must be >= 1, got -3"):
        make_deep_mlp("relu", in_features=-3)


def test_layer_grad_norms_errors():
    model = net("sigmoid", depth=2, width=8)
    x, y = batch()
    with pytest.raises(ValueError, match=r"of must be 'weight' or 'output', got 'input'"):
        layer_grad_norms(model, x, y, of="input")
    with pytest.raises(ValueError, match=r"'layer9', which is not a submodule"):
        layer_grad_norms(model, x, y, layers=["layer1", "layer9"])
    with pytest.raises(TypeError, match=r"sequence of module names, got the string 'layer1'"):
        layer_grad_norms(model, x, y, layers="layer1")
    with pytest.raises(ValueError, match="empty"):
        layer_grad_norms(model, x, y, layers=[])
    with pytest.raises(ValueError, match="duplicate"):
        layer_grad_norms(model, x, y, layers=["layer1", "layer1"])
    with pytest.raises(ValueError, match=r"'layer1.act' has no trainable parameters"):
        layer_grad_norms(model, x, y, layers=["layer1.act"])
    assert layer_grad_norms(model, x, y, layers=["layer1.act"], of="output")[0][1] > 0
    with pytest.raises(TypeError, match=r"model must be an nn\.Module"):
        layer_grad_norms(lambda t: t, x, y)
    assert_no_hooks(model)

    class WithUnused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Linear(32, 10)
            self.unused = nn.Linear(3, 3)

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return self.used(t)

    with pytest.raises(ValueError, match=r"does not depend on layers \['unused'\]"):
        layer_grad_norms(WithUnused(), x, y)

    frozen = net("relu", depth=2, width=8).requires_grad_(False)
    with pytest.raises(ValueError, match="no child module with trainable parameters"):
        layer_grad_norms(frozen, x, y)


def test_recorder_errors():
    model = net("relu", depth=2, width=8)
    rec = GradNormRecorder(model)
    with rec:
        with pytest.raises(RuntimeError, match=r"no gradient has reached layers \['layer1'"):
            _ = rec.norms
        with pytest.raises(RuntimeError, match="already active"), rec:
            pass
    assert_no_hooks(model)
