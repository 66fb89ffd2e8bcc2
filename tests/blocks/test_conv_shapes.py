"""Tests for knowledge.blocks.conv_shapes against torch's real layers.

Oracles: nn.Conv2d, nn.MaxPool2d and nn.AvgPool2d run on zero tensors (their output shape,
or the RuntimeError they raise), and small cases worked by hand.
"""

from __future__ import annotations

import math
import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from knowledge.blocks import conv_output_size, same_padding


@pytest.fixture(autouse=True)
def one_thread():
    """Thousands of tiny ops: a second intra-op thread only adds overhead (restored after)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


KINDS = ("conv", "maxpool", "avgpool")


def real_layer(kind: str, k, s, p, d, ceil: bool) -> nn.Module:
    if kind == "conv":
        return nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False)
    if kind == "maxpool":
        return nn.MaxPool2d(k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
    return nn.AvgPool2d(k, stride=s, padding=p, ceil_mode=ceil)


def torch_output(kind: str, hw: tuple[int, int], k, s, p, d, ceil: bool):
    """The real layer's (H_out, W_out), or None when torch refuses the configuration."""
    try:
        layer = real_layer(kind, k, s, p, d, ceil)
        with torch.no_grad():
            return tuple(layer(torch.zeros(1, 1, *hw)).shape[2:])
    except RuntimeError:
        return None


def ours(kind: str, size, k, s, p, d, ceil: bool):
    try:
        return conv_output_size(size, k, s, p, d, ceil, layer=kind)
    except ValueError:
        return None


def random_config(rng: random.Random, kind: str) -> tuple:
    size, k = rng.randint(1, 64), rng.randint(1, 7)
    s, p = rng.randint(1, 4), rng.randint(0, k)
    d = 1 if kind == "avgpool" else rng.randint(1, 3)
    ceil = kind != "conv" and rng.random() < 0.5
    return size, k, s, p, d, ceil


@pytest.mark.parametrize("kind", KINDS)
def test_random_sweep_matches_real_layers(kind):
    rng = random.Random(f"sweep-{kind}")
    raised = 0
    for _ in range(1200):
        size, k, s, p, d, ceil = random_config(rng, kind)
        expected = torch_output(kind, (size, size), k, s, p, d, ceil)
        got = ours(kind, size, k, s, p, d, ceil)
        config = f"{kind} size={size} k={k} s={s} p={p} d={d} ceil={ceil}"
        if expected is None:
            raised += 1
            assert got is None, f"torch raises but we return {got}: {config}"
        else:
            assert got == expected[0], f"torch gives {expected[0]}, we give {got}: {config}"
    assert 0 < raised < 1200  # both branches are exercised


@pytest.mark.parametrize("kind", KINDS)
def test_random_sweep_with_tuples(kind):
    """Different H and W settings: one size per dimension, an error if either is invalid."""
    rng = random.Random(f"tuples-{kind}")
    for _ in range(300):
        h, kh, sh, ph, dh, ceil = random_config(rng, kind)
        w, kw, sw, pw, dw, _ = random_config(rng, kind)
        d = 1 if kind == "avgpool" else (dh, dw)
        expected = torch_output(kind, (h, w), (kh, kw), (sh, sw), (ph, pw), d, ceil)
        got = ours(kind, (h, w), (kh, kw), (sh, sw), (ph, pw), d, ceil)
        assert got == expected, f"{kind} {(h, w)} k={(kh, kw)} s={(sh, sw)} p={(ph, pw)} d={d}"


def naive_ceil(size: int, k: int, s: int, p: int, d: int) -> int:
    return math.ceil((size + 2 * p - d * (k - 1) - 1) / s) + 1


def test_plain_ceiling_formula_is_not_torchs_rule():
    """The textbook ceil formula overcounts where torch drops a window in the right padding."""
    rng = random.Random("ceil")
    checked = wrong = 0
    for _ in range(1500):
        size, k, s, p, d, _ = random_config(rng, "maxpool")
        expected = torch_output("maxpool", (size, size), k, s, p, d, True)
        if expected is None:
            continue
        checked += 1
        assert conv_output_size(size, k, s, p, d, True, layer="maxpool") == expected[0]
        if naive_ceil(size, k, s, p, d) != expected[0]:
            wrong += 1
            assert naive_ceil(size, k, s, p, d) == expected[0] + 1  # always one too many
    assert checked > 500 and wrong > 0.02 * checked


def test_hand_worked_examples():
    # VGG: k3 p1 s1 keeps the size, (H + 2 - 3) // 1 + 1 = H
    assert conv_output_size(224, 3, 1, 1) == 224
    # 2x2 pool, stride 2: (H - 2) // 2 + 1 = H // 2, so 225 -> 112 (floored)
    assert conv_output_size(225, 2, 2) == 112
    assert conv_output_size(225, 2, 2, ceil_mode=True, layer="maxpool") == 113
    # AlexNet conv1: (227 - 11) // 4 + 1 = 55
    assert conv_output_size(227, 11, 4) == 55
    # ResNet stem: (224 + 6 - 7) // 2 + 1 = 112; its max-pool (112 + 2 - 3) // 2 + 1 = 56
    assert conv_output_size(224, 7, 2, 3) == 112
    assert conv_output_size(112, 3, 2, 1, layer="maxpool") == 56
    # DeepLab ASPP branch: k3 d12 p12 keeps the size, k_eff = 25, (65 + 24 - 25) + 1 = 65
    assert conv_output_size(65, 3, 1, 12, 12) == 65
    # ceil: size 5, k3, s3, p1: ceil(4 / 3) + 1 = 3, but window 3 starts at padded index 6,
    # and 6 >= 5 + 1 is in the right padding -> 2
    assert conv_output_size(5, 3, 3, 1, ceil_mode=True) == 2
    assert conv_output_size((225, 224), 2, 2) == (112, 112)
    assert conv_output_size((9, 9), (3, 1), (2, 1), (1, 0)) == (5, 9)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize(("k", "d"), [(1, 1), (2, 1), (3, 1), (4, 1), (5, 2), (2, 3), (3, 4)])
@pytest.mark.parametrize("size", [1, 2, 7, 16])
def test_padding_same_and_valid_match_conv2d(k, d, size):
    x = torch.zeros(1, 1, size, size + 1)
    same = nn.Conv2d(1, 1, k, padding="same", dilation=d)(x).shape[2:]
    assert conv_output_size((size, size + 1), k, padding="same", dilation=d) == tuple(same)
    assert conv_output_size(size, k, padding="same", dilation=d, layer="conv") == size
    expected = torch_output("conv", (size, size), k, 1, 0, d, False)
    try:
        got = conv_output_size(size, k, padding="valid", dilation=d, layer="conv")
    except ValueError:
        got = None
    assert got == (None if expected is None else expected[0])


def test_padding_same_rejects_stride_like_torch():
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"padding='same' needs stride 1.*stride=2"):
        conv_output_size(32, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="maxpool takes an int padding"):
        conv_output_size(32, 3, padding="same", layer="maxpool")
    with pytest.raises(ValueError, match="'valid' or 'same'"):
        conv_output_size(32, 3, padding="full")


@pytest.mark.parametrize(("k", "d"), [(1, 1), (3, 1), (5, 1), (7, 1), (3, 2), (3, 6), (2, 2)])
def test_same_padding_keeps_size_in_conv2d(k, d):
    p = same_padding(k, d)
    conv = nn.Conv2d(1, 1, k, padding=p, dilation=d)
    assert conv(torch.zeros(1, 1, 13, 10)).shape[2:] == (13, 10)
    assert p == d * (k - 1) // 2


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize(("k", "d"), [(2, 1), (4, 1), (4, 3), (6, 1)])
def test_even_effective_kernel_has_no_symmetric_padding(k, d):
    total = d * (k - 1)
    with pytest.raises(
        ValueError, match=f"pads {total // 2} before and {total - total // 2} after"
    ):
        same_padding(k, d)
    # the message's claim, checked against torch: padding="same" equals an explicit
    # asymmetric F.pad (left/top total // 2, right/bottom the rest) followed by a valid conv
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 1, k, padding="same", dilation=d, bias=False)
    x = torch.randn(1, 1, 9, 11, dtype=torch.float64)
    w = conv.weight.double()
    left, right = total // 2, total - total // 2
    expected = F.conv2d(F.pad(x, (left, right, left, right)), w, dilation=d)
    assert torch.allclose(F.conv2d(x, w, padding="same", dilation=d), expected)


def test_errors_name_argument_value_and_rule():
    with pytest.raises(ValueError, match=r"padding=2 is too large for avgpool.*kernel_size // 2"):
        conv_output_size(10, 3, 1, 2, layer="avgpool")
    # dilation does not relax the pooling rule: torch checks the kernel size itself
    with pytest.raises(RuntimeError):
        nn.MaxPool2d(3, 1, padding=2, dilation=2)(torch.zeros(1, 1, 10, 10))
    with pytest.raises(ValueError, match="padding=2 is too large for maxpool"):
        conv_output_size(10, 3, 1, 2, 2, layer="maxpool")
    assert conv_output_size(10, 3, 1, 2, 2, layer="conv") == 10  # a conv accepts it
    with pytest.raises(ValueError, match=r"output size 0 is < 1.*effective kernel size.* = 5"):
        conv_output_size(4, 3, dilation=2)
    with pytest.raises(ValueError, match=r"\(dim 1\)"):
        conv_output_size((8, 2), 3)
    with pytest.raises(ValueError, match="avgpool has no dilation"):
        conv_output_size(8, 3, dilation=2, layer="avgpool")
    with pytest.raises(ValueError, match="ceil_mode=True is not an option of convolutions"):
        conv_output_size(8, 3, ceil_mode=True, layer="conv")
    with pytest.raises(ValueError, match="layer must be one of"):
        conv_output_size(8, 3, layer="Conv2d")
    with pytest.raises(ValueError, match="same length"):
        conv_output_size((8, 8), (3, 3, 3))
    with pytest.raises(ValueError, match="size must be >= 1, got 0"):
        conv_output_size(0, 1)
    with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
        conv_output_size(8, 3, 0)
    with pytest.raises(ValueError, match="padding must be >= 0, got -1"):
        conv_output_size(8, 3, 1, -1)
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        conv_output_size(8, 3.0)
    with pytest.raises(TypeError, match="size must be an int"):
        conv_output_size(True, 1)
    with pytest.raises(TypeError, match="ceil_mode must be a bool"):
        conv_output_size(8, 2, 2, 0, 1, 1)
    with pytest.raises(TypeError, match="dilation must be an int"):
        same_padding(3, dilation=1.5)
