"""Tests for knowledge.blocks.receptive_field.

Oracles: autograd (the non-zero region of the input gradient of one output position, on
linear stacks with positive weights, in float64), the published VGG-16 receptive fields,
and small cases worked by hand.
"""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from knowledge.blocks import ReceptiveField, effective_receptive_field, theoretical_receptive_field


@pytest.fixture(autouse=True)
def one_thread():
    """Thousands of tiny ops: a second intra-op thread only adds overhead (restored after)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------
# Oracle: the input region whose gradient is non-zero
# --------------------------------------------------------------------------------------


def random_linear_stack(rng: random.Random, ndim: int, max_layers: int) -> nn.Sequential:
    """Convolutions and average pools with 1 channel and positive weights, no ReLU or max.

    With positive weights every path from an input pixel to the output adds a positive
    amount, so the gradient is non-zero exactly on the pixels that some path reaches.
    """
    conv = {1: nn.Conv1d, 2: nn.Conv2d}[ndim]
    pool = {1: nn.AvgPool1d, 2: nn.AvgPool2d}[ndim]

    def per_axis(low: int, high: int) -> tuple[int, ...]:
        return tuple(rng.randint(low, high) for _ in range(ndim))

    layers: list[nn.Module] = []
    for _ in range(rng.randint(1, max_layers)):
        choice = rng.random()
        if choice < 0.5:
            k = per_axis(1, 5)
            p = tuple(rng.randint(0, ki) for ki in k)
            layers.append(conv(1, 1, k, stride=per_axis(1, 2), padding=p, dilation=per_axis(1, 3)))
        elif choice < 0.65:  # padding="same", also with even kernels (asymmetric)
            layers.append(conv(1, 1, per_axis(1, 4), padding="same", dilation=per_axis(1, 2)))
        else:
            k = per_axis(1, 4)
            p = tuple(rng.randint(0, ki // 2) for ki in k)
            layers.append(
                pool(
                    k,
                    stride=per_axis(1, 3),
                    padding=p,
                    ceil_mode=rng.random() < 0.5,
                    count_include_pad=rng.random() < 0.5,
                )
            )
    stack = nn.Sequential(*layers).double()
    gen = torch.Generator().manual_seed(rng.randrange(2**31))
    with torch.no_grad():
        for m in stack.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                m.weight.uniform_(0.5, 1.5, generator=gen)
    return stack


def gradient_regions(stack: nn.Module, n: int, ndim: int):
    """(first, last) non-zero input index per axis, for the middle output and its neighbour.

    Returns None when the stack does not fit an input of size n (torch raises) or leaves
    fewer than 3 output positions.
    """
    x = torch.zeros((1, 1) + (n,) * ndim, dtype=torch.float64, requires_grad=True)
    try:
        y = stack(x)
    except RuntimeError:
        return None
    out = tuple(y.shape[2:])
    if min(out) < 3:
        return None
    mid = tuple(s // 2 for s in out)
    regions = []
    for shift in (0, 1):
        (grad,) = torch.autograd.grad(y[(0, 0, *(m + shift for m in mid))], x, retain_graph=True)
        nz = grad[0, 0] != 0
        axes = []
        for axis in range(ndim):
            other = tuple(a for a in range(ndim) if a != axis)
            idx = torch.nonzero(nz.any(dim=other) if other else nz).flatten()
            axes.append((int(idx[0]), int(idx[-1])))
        regions.append(tuple(axes))
    return mid, regions


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize(("ndim", "n", "count", "max_layers"), [(1, 700, 150, 6), (2, 96, 30, 4)])
def test_recurrence_matches_gradient_region(ndim, n, count, max_layers):
    rng = random.Random(f"rf-{ndim}")
    checked = drawn = 0
    while checked < count:
        drawn += 1
        assert drawn < 5 * count, f"only {checked} of {drawn} random stacks were usable"
        stack = random_linear_stack(rng, ndim, max_layers)
        found = gradient_regions(stack, n, ndim)
        if found is None:  # too deep for the input: draw another
            continue
        mid, (here, right) = found
        # interior only: a region touching the border may be clipped by the image edge
        if any(lo == 0 or hi == n - 1 for lo, hi in here + right):
            continue
        checked += 1
        rf = theoretical_receptive_field(stack)
        for axis in range(ndim):
            (lo, hi), (lo_next, _) = here[axis], right[axis]
            msg = f"axis {axis} of {stack}"
            assert rf.size[axis] == hi - lo + 1, msg
            assert rf.jump[axis] == lo_next - lo, msg
            assert rf.start[axis] + mid[axis] * rf.jump[axis] == (lo + hi) / 2, msg
        assert rf.region(mid) == here


def test_relu_and_max_pool_shrink_the_gradient_region():
    torch.manual_seed(0)
    # one 3-wide max-pool: the gradient reaches only the argmax of each window
    x = torch.rand(1, 1, 1, 9, requires_grad=True)
    nn.MaxPool2d((1, 3), stride=1)(x)[0, 0, 0, 3].backward()
    assert int((x.grad != 0).sum()) == 1
    # signed random weights and ReLUs: the region is a subset of the theoretical one
    stack = nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, dilation=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 1, 3),
    ).double()
    rf = theoretical_receptive_field(stack)
    x = torch.randn(1, 1, 41, 41, dtype=torch.float64, requires_grad=True)
    y = stack(x)
    y[0, 0, 5, 5].backward()
    (r0, r1), (c0, c1) = rf.region((5, 5))
    inside = torch.zeros_like(x.grad, dtype=torch.bool)
    inside[..., r0 : r1 + 1, c0 : c1 + 1] = True
    nonzero = x.grad != 0
    assert not (nonzero & ~inside).any()
    assert nonzero.sum() < inside.sum()  # strictly smaller than the theoretical square


# --------------------------------------------------------------------------------------
# Published and hand-worked values
# --------------------------------------------------------------------------------------

# VGG-16 (Simonyan & Zisserman 2015, configuration D): numbers are 3x3 convs (padding 1)
# with that many channels, "M" is a 2x2 max-pool with stride 2.
VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for v in VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, v, 3, padding=1, device="meta"), nn.ReLU(inplace=True)]
            channels = v
    return nn.Sequential(*layers)


def test_vgg16_published_receptive_fields():
    rf = theoretical_receptive_field(vgg16_features(), input_size=224)
    rows = {row.name: row for row in rf.rows}
    # torchvision's indices: conv4_3 is 21, conv5_3 is 28, pool5 is 30. Published values
    # (e.g. Araujo et al., "Computing receptive fields of convolutional neural networks",
    # Distill 2019; SSD's conv4_3): 92, 196 and 212.
    assert rows["21"].size == (92, 92)
    assert rows["28"].size == (196, 196)
    assert rows["30"].size == (212, 212) == rf.size
    assert rf.jump == (32, 32)
    assert rows["30"].output_size == (7, 7)
    # by hand: each pool (k2, p0) moves the centre by 0.5 * jump: 0.5 + 1 + 2 + 4 + 8
    assert rf.start == (15.5, 15.5)
    assert len(rf.rows) == 31


def test_resnet_stem_by_hand():
    stem = nn.Sequential(
        nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False, device="meta"),
        nn.BatchNorm2d(64, device="meta"),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2, padding=1),
    )
    rf = theoretical_receptive_field(stem, input_size=(224, 224))
    # conv: r = 1 + 6 * 1 = 7, j = 2, start = 0 + (3 - 3) * 1 = 0
    # pool: r = 7 + 2 * 2 = 11, j = 4, start = 0 + (1 - 1) * 2 = 0
    assert (rf.size, rf.jump, rf.start) == ((11, 11), (4, 4), (0.0, 0.0))
    assert [row.output_size for row in rf.rows] == [(112, 112)] * 3 + [(56, 56)]
    assert rf.region((1, 2)) == ((-1, 9), (3, 13))  # centres 4 and 8, +-5


def test_nested_sequential_and_pointwise_layers():
    block = nn.Sequential(nn.Conv1d(1, 1, 3, dilation=2), nn.BatchNorm1d(1), nn.GELU())
    stack = nn.Sequential(block, nn.Sequential(nn.Dropout(), block), nn.AvgPool1d(2))
    rf = theoretical_receptive_field(stack)
    names = ["0.0", "0.1", "0.2", "1.0", "1.1.0", "1.1.1", "1.1.2", "2"]
    assert [row.name for row in rf.rows] == names
    # two dilated convs (k_eff = 5 each): 1 + 4 + 4 = 9; the pool adds 1: 10
    assert rf.size == (10,) and rf.jump == (2,) and rf.start == (4.5,)
    assert theoretical_receptive_field(nn.ReLU()).size == (1, 1)
    shared = nn.Conv2d(1, 1, 3)  # one module used twice runs twice: 1 + 2 + 2
    assert theoretical_receptive_field(nn.Sequential(shared, nn.ReLU(), shared)).size == (5, 5)
    assert theoretical_receptive_field(nn.Conv2d(1, 1, (1, 7))).size == (1, 7)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
def test_padding_same_is_asymmetric_for_even_kernels():
    rf = theoretical_receptive_field(
        nn.Sequential(nn.Conv2d(1, 1, 4, padding="same")), input_size=9
    )
    # torch pads 1 before and 2 after: position i sees i-1..i+2, centred on i + 0.5
    assert rf.start == (0.5, 0.5) and rf.region(3) == ((2, 5), (2, 5))
    assert rf.rows[0].output_size == (9, 9)
    valid = theoretical_receptive_field(nn.Conv2d(1, 1, 3, padding="valid"), input_size=9)
    assert valid.start == (1.0, 1.0) and valid.rows[0].output_size == (7, 7)


def test_table_lists_every_layer():
    rf = theoretical_receptive_field(vgg16_features(), input_size=224)
    lines = str(rf).splitlines()
    assert len(lines) == 2 + 31
    assert lines[0].split() == ["layer", "type", "k", "s", "p", "d", "out", "r", "j", "start"]
    assert lines[-1].split() == ["30", "MaxPool2d", "2", "2", "0", "1", "7", "212", "32", "15.5"]
    assert isinstance(rf, ReceptiveField)
    assert "x" in theoretical_receptive_field(nn.Conv2d(1, 1, (3, 5))).table().splitlines()[-1]


@pytest.mark.parametrize(
    ("layer", "match"),
    [
        (nn.AdaptiveAvgPool2d(1), "AdaptiveAvgPool2d.*every input position"),
        (nn.GroupNorm(1, 4), "GroupNorm.*statistics over all positions"),
        (nn.InstanceNorm2d(4), "InstanceNorm2d.*statistics"),
        (nn.ConvTranspose2d(4, 4, 2, 2), "ConvTranspose2d.*transposed"),
        (nn.Upsample(scale_factor=2), "'1' \\(Upsample\\): supported are"),
        (nn.ModuleList([nn.ReLU()]), "only nn.Sequential containers"),
    ],
)
def test_unsupported_layers_raise_type_error(layer, match):
    with pytest.raises(TypeError, match=match):
        theoretical_receptive_field(nn.Sequential(nn.Conv2d(4, 4, 3), layer))


def test_value_errors():
    with pytest.raises(ValueError, match="disagree on the number of spatial axes"):
        theoretical_receptive_field(nn.Sequential(nn.Conv1d(1, 1, 3), nn.Conv2d(1, 1, 3)))
    with pytest.raises(ValueError, match=r"layer '2' \(Conv2d\): output size 0"):
        theoretical_receptive_field(
            nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3)), input_size=6
        )
    with pytest.raises(ValueError, match="disagree"):
        theoretical_receptive_field(nn.Conv2d(1, 1, 3), input_size=(8, 8, 8))
    with pytest.raises(ValueError, match="size must be >= 1"):
        theoretical_receptive_field(nn.Conv2d(1, 1, 3), input_size=0)
    with pytest.raises(TypeError, match=r"must be an nn\.Module"):
        theoretical_receptive_field([nn.Conv2d(1, 1, 3)])
    with pytest.raises(ValueError, match="needs 2 entries"):
        theoretical_receptive_field(nn.Conv2d(1, 1, 3)).region((1, 2, 3))


# --------------------------------------------------------------------------------------
# effective_receptive_field
# --------------------------------------------------------------------------------------


def test_effective_field_of_averaging_stack_is_binomial():
    # three 1x3 convs with taps 1/3: the weight of an input pixel is its number of paths
    # to the centre output over 3^3; the path counts are the coefficients of
    # (1 + z + z^2)^3 = 1 + 3z + 6z^2 + 7z^3 + 6z^4 + 3z^5 + z^6
    stack = nn.Sequential(*[nn.Conv2d(1, 1, (1, 3), bias=False) for _ in range(3)]).double()
    for conv in stack:
        nn.init.constant_(conv.weight, 1 / 3)
    erf = effective_receptive_field(stack, torch.zeros(1, 1, 1, 11, dtype=torch.float64))
    expected = torch.tensor([0, 0, 1, 3, 6, 7, 6, 3, 1, 0, 0], dtype=torch.float64) / 27
    assert torch.allclose(erf[0], expected)
    assert erf.dtype == torch.float64


def test_effective_field_support_is_the_theoretical_region():
    torch.manual_seed(0)
    stack = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.AvgPool2d(2), nn.Conv2d(3, 1, 3, dilation=2)
    ).double()
    with torch.no_grad():
        for conv in (stack[0], stack[2]):
            conv.weight.uniform_(0.5, 1.5)
    erf = effective_receptive_field(stack, torch.randn(2, 2, 32, 32, dtype=torch.float64))
    rf = theoretical_receptive_field(stack)
    (r0, r1), (c0, c1) = rf.region((6, 6))  # 16 - 4 = 12 outputs; the default is the centre
    support = torch.nonzero(erf)
    assert (support.min(0).values.tolist(), support.max(0).values.tolist()) == (
        [r0, c0],
        [r1, c1],
    )
    corner = effective_receptive_field(stack, torch.zeros(1, 2, 32, 32).double(), position=(0, 0))
    assert torch.nonzero(corner).max(0).values.tolist() == [rf.region(0)[0][1]] * 2


def test_effective_field_errors():
    conv = nn.Conv2d(1, 1, 3)
    with pytest.raises(TypeError, match="floating tensor"):
        effective_receptive_field(conv, torch.zeros(1, 1, 5, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"position=\(3, 0\) is outside the output size \(3, 3\)"):
        effective_receptive_field(conv, torch.zeros(1, 1, 5, 5), position=(3, 0))
    with pytest.raises(ValueError, match="no spatial axes"):
        effective_receptive_field(nn.Flatten(), torch.zeros(1, 1, 5, 5))
    with torch.no_grad():  # works under no_grad too
        assert effective_receptive_field(conv, torch.zeros(1, 1, 5, 5)).shape == (5, 5)
