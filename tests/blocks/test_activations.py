"""Tests for knowledge.blocks.activations against torch.nn and hand-worked values.

Oracles: torch.nn.LeakyReLU / PReLU / ELU (forward, input gradient, PReLU weight gradient,
ELU second derivative), torch.autograd.gradcheck (finite differences), and derivatives at
x = 0 worked out from torch's kernels (the comparison there is x > 0, so 0 takes the left
branch).
"""

from __future__ import annotations

import math

import pytest
import torch

from knowledge.blocks import ELU, LeakyReLU, PReLU


def special_input(shape: tuple[int, ...], dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """Random values over several scales, with 0.0, -0.0 and large entries planted."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen, dtype=torch.float64) * 4
    flat = x.view(-1)
    flat[:6] = torch.tensor([0.0, -0.0, 1e-300, -1e-300, 700.0, -700.0])
    return x.to(dtype)


def assert_bitwise(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Same dtype, shape and bit pattern (so even the sign of zero must match)."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    bits = {torch.float64: torch.int64, torch.float32: torch.int32}[actual.dtype]
    assert torch.equal(actual.detach().view(bits), expected.detach().view(bits))


def assert_equal_values(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Bitwise up to the sign of zero (IEEE equality), for gradients built by autograd.

    Autograd adds the gradients of both ``torch.where`` branches, and +0 + (-0) = +0, where
    torch's kernel writes ``g * slope`` = -0 directly. No other bit may differ.
    """
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    assert torch.equal(actual, expected)
    nonzero = expected != 0
    assert_bitwise(actual[nonzero], expected[nonzero])


def grads(module, x, g, *extra):
    x = x.detach().requires_grad_(True)
    y = module(x)
    return (y, *torch.autograd.grad(y, (x, *extra), g))


# --------------------------------------------------------------------------------------
# LeakyReLU
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("slope", [0.01, 0.2, 0.0, -0.3, 1.5, 3])
def test_leaky_relu_is_bitwise_torch_in_value_and_gradient(slope, dtype):
    x = special_input((3, 4, 5, 6), dtype)
    g = special_input((3, 4, 5, 6), dtype, seed=1)
    y, gx = grads(LeakyReLU(negative_slope=slope), x, g)
    ry, rgx = grads(torch.nn.LeakyReLU(slope), x, g)
    assert_bitwise(y, ry)
    assert_equal_values(gx, rgx)


def test_leaky_relu_gradient_at_zero_is_the_slope():
    # torch: grad * (x > 0 ? 1 : negative_slope), so x = 0 takes the slope (ReLU's would be 0).
    x = torch.tensor([0.0, -0.0], dtype=torch.float64, requires_grad=True)
    LeakyReLU(negative_slope=0.2)(x).sum().backward()
    assert x.grad.tolist() == [0.2, 0.2]
    x.grad = None
    torch.nn.LeakyReLU(0.2)(x).sum().backward()
    assert x.grad.tolist() == [0.2, 0.2]


def test_leaky_relu_hand_values():
    y = LeakyReLU()(torch.tensor([-100.0, -1.0, 2.5], dtype=torch.float64))
    assert y.tolist() == [-1.0, -0.01, 2.5]  # -100 * 0.01 = -1, -1 * 0.01 = -0.01


# --------------------------------------------------------------------------------------
# PReLU
# --------------------------------------------------------------------------------------


def torch_prelu(num_parameters: int, weight: torch.Tensor) -> torch.nn.PReLU:
    ref = torch.nn.PReLU(num_parameters, dtype=weight.dtype)
    with torch.no_grad():
        ref.weight.copy_(weight)
    return ref


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    ("num_parameters", "shape"),
    [(1, (2, 3, 4, 5)), (1, (7,)), (1, ()), (3, (2, 3, 4, 5)), (3, (5, 3)), (4, (2, 4, 9))],
)
def test_prelu_matches_torch_in_value_input_grad_and_weight_grad(num_parameters, shape, dtype):
    x = special_input(shape, dtype) if shape else torch.tensor(-1.5, dtype=dtype)
    g = torch.randn(shape, generator=torch.Generator().manual_seed(2), dtype=dtype)
    slopes = torch.tensor([0.25, -0.1, 0.6, 0.0][:num_parameters], dtype=dtype)

    ours = PReLU(num_parameters=num_parameters, dtype=dtype)
    with torch.no_grad():
        ours.weight.copy_(slopes)
    ref = torch_prelu(num_parameters, slopes)

    y, gx, gw = grads(ours, x, g, ours.weight)
    ry, rgx, rgw = grads(ref, x, g, ref.weight)
    assert_bitwise(y, ry)
    assert_equal_values(gx, rgx)
    assert gw.shape == rgw.shape == (num_parameters,)
    tol = 1e-12 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(gw, rgw, rtol=tol, atol=tol)


def test_prelu_gradients_at_zero_and_hand_worked_weight_gradient():
    # x = [-4, 0, 3], a = 0.25, upstream gradient 1:
    #   dy/dx = [a, a, 1] (x = 0 takes the left branch, as in torch's prelu kernel)
    #   dL/da = sum over x <= 0 of x = -4 + 0 = -4
    x = torch.tensor([-4.0, 0.0, 3.0], dtype=torch.float64, requires_grad=True)
    act = PReLU(dtype=torch.float64)
    act(x).sum().backward()
    assert x.grad.tolist() == [0.25, 0.25, 1.0]
    assert act.weight.grad.tolist() == [-4.0]
    ref = torch.nn.PReLU(dtype=torch.float64)
    x.grad = None
    ref(x).sum().backward()
    assert x.grad.tolist() == [0.25, 0.25, 1.0] and ref.weight.grad.tolist() == [-4.0]


def test_prelu_parameter_state_dict_and_repr_match_torch():
    ours, ref = PReLU(num_parameters=3, init=0.1), torch.nn.PReLU(3, init=0.1)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    torch.testing.assert_close(ours.weight, ref.weight, rtol=0, atol=0)
    ours.load_state_dict(ref.state_dict())
    assert repr(ours) == repr(ref) == "PReLU(num_parameters=3)"
    assert repr(LeakyReLU(0.2)) == repr(torch.nn.LeakyReLU(0.2))
    assert repr(ELU(alpha=0.5)) == repr(torch.nn.ELU(0.5))
    with torch.no_grad():
        ours.weight.zero_()
    ours.reset_parameters()
    assert ours.weight.tolist() == pytest.approx([0.1] * 3)


def test_prelu_channel_mismatch_is_a_value_error():
    act = PReLU(num_parameters=3)
    with pytest.raises(ValueError, match=r"num_parameters=3.*\(2, 4, 5\).*4 channels"):
        act(torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match="1 channels"):  # torch: a 1-D input has one channel
        act(torch.randn(3))
    with pytest.raises(RuntimeError):  # the oracle refuses the same inputs
        torch.nn.PReLU(3)(torch.randn(3))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_parameters": 0}, ValueError, "num_parameters must be >= 1, got 0"),
        ({"num_parameters": -2}, ValueError, "got -2"),
        ({"num_parameters": 2.0}, TypeError, "num_parameters must be an int"),
        ({"num_parameters": True}, TypeError, "num_parameters must be an int"),
        ({"init": float("nan")}, ValueError, "init must be finite"),
        ({"init": "0.25"}, TypeError, "init must be a real number"),
    ],
)
def test_prelu_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        PReLU(**kwargs)


def test_prelu_learns_a_slope_by_gradient_descent():
    # Target slope 0.3 on the negative side; the loss is quadratic in a, so plain gradient
    # descent must reach it.
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(256, generator=gen, dtype=torch.float64) * 6 - 3
    y = torch.where(x > 0, x, 0.3 * x)
    act = PReLU(dtype=torch.float64)
    for _ in range(100):
        (grad,) = torch.autograd.grad(torch.mean((act(x) - y) ** 2), act.weight)
        with torch.no_grad():
            act.weight -= 0.5 * grad
    assert act.weight.item() == pytest.approx(0.3, abs=1e-9)


# --------------------------------------------------------------------------------------
# ELU
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [1.0, 0.3, 2.5, -0.7, 0.0])
def test_elu_forward_is_bitwise_torch(alpha):
    for dtype in (torch.float64, torch.float32):
        x = special_input((4, 3, 17, 9), dtype)
        assert_bitwise(ELU(alpha=alpha)(x), torch.nn.ELU(alpha)(x))


@pytest.mark.parametrize("alpha", [1.0, 0.3, 2.5, -0.7])
def test_elu_first_and_second_derivatives_match_torch(alpha):
    # Not bitwise: torch's fused backward kernel evaluates exp with its own vector routine,
    # which rounds a few results differently in the last bit. Within a few ulp here.
    x = special_input((5_000,), torch.float64).requires_grad_(True)
    g = torch.randn(5_000, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    h = torch.randn(5_000, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    out = []
    for module in (ELU(alpha=alpha), torch.nn.ELU(alpha)):
        (gx,) = torch.autograd.grad(module(x), x, g, create_graph=True)
        (gxx,) = torch.autograd.grad(gx, x, h)
        out.append((gx.detach(), gxx))
    (gx, gxx), (rgx, rgxx) = out
    torch.testing.assert_close(gx, rgx, rtol=1e-14, atol=1e-300)
    assert (gx - rgx).abs().max().item() <= 1e-12
    torch.testing.assert_close(gxx, rgxx, rtol=1e-14, atol=1e-300)


def test_elu_derivatives_at_zero():
    # torch: first derivative at x = 0 is alpha * exp(0) = alpha (x <= 0 branch);
    # second derivative there is 0 (its double backward masks with x < 0).
    for alpha in (1.0, 0.5):
        x = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
        (d1,) = torch.autograd.grad(ELU(alpha=alpha)(x).sum(), x, create_graph=True)
        (d2,) = torch.autograd.grad(d1.sum(), x)
        assert d1.tolist() == [alpha] and d2.tolist() == [0.0]


def test_elu_keeps_tiny_gradients_and_has_no_nan_for_huge_inputs():
    # float32, x = -20: alpha * exp(-20) = 2.06e-9; autograd through expm1 would give
    # alpha * (expm1(-20) + 1) = 0 because expm1(-20) rounds to -1.
    x = torch.tensor([-20.0, -90.0, 1e30, 1e38], requires_grad=True)
    (gx,) = torch.autograd.grad(ELU()(x).sum(), x)
    (rgx,) = torch.autograd.grad(torch.nn.ELU()(x).sum(), x)
    assert gx[0].item() == pytest.approx(math.exp(-20), rel=1e-6)
    torch.testing.assert_close(gx, rgx, rtol=1e-6, atol=0)
    assert torch.isfinite(gx).all()


def test_elu_hand_values_and_saturation():
    y = ELU(alpha=2.0)(torch.tensor([-1.0, -50.0, 0.0, 3.0], dtype=torch.float64))
    expected = [2.0 * (math.exp(-1.0) - 1.0), -2.0, 0.0, 3.0]  # saturates at -alpha
    assert y.tolist() == pytest.approx(expected, rel=1e-15, abs=1e-15)


def test_gradcheck_all_three():
    gen = torch.Generator().manual_seed(5)
    x = (torch.randn(4, 3, 5, generator=gen, dtype=torch.float64) + 0.05).requires_grad_(True)
    prelu = PReLU(num_parameters=3, dtype=torch.float64)
    assert torch.autograd.gradcheck(LeakyReLU(0.1), (x,))
    assert torch.autograd.gradcheck(lambda t, w: torch.nn.functional.prelu(t, w), (x, prelu.weight))
    assert torch.autograd.gradcheck(prelu, (x,))
    assert torch.autograd.gradcheck(ELU(alpha=0.7), (x,))
    assert torch.autograd.gradgradcheck(ELU(alpha=0.7), (x,))


# --------------------------------------------------------------------------------------
# Argument checks shared by all three
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [LeakyReLU, ELU])
def test_hyperparameter_checks(cls):
    with pytest.raises(TypeError, match="must be a real number"):
        cls("0.1")
    with pytest.raises(TypeError, match="must be a real number"):
        cls(True)
    with pytest.raises(ValueError, match="must be finite, got inf"):
        cls(float("inf"))


@pytest.mark.parametrize("module", [LeakyReLU(), PReLU(), ELU()])
def test_input_checks(module):
    with pytest.raises(TypeError, match=r"floating-point tensor, got dtype torch\.int64"):
        module(torch.tensor([1, -1]))
    with pytest.raises(TypeError, match="must be a tensor, got list"):
        module([1.0, -1.0])
