"""Tests for knowledge.blocks.resampling against independent oracles.

Oracles: ``F.interpolate`` (hundreds of random configurations, bitwise for nearest),
``nn.ConvTranspose1d/2d``, ``F.pixel_shuffle``, ``F.conv2d``, plain-Python loops written
here, and small cases worked by hand in the comments.
"""

from __future__ import annotations

import math
import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from knowledge.blocks import (
    icnr_,
    interpolate_bilinear,
    interpolate_nearest,
    pixel_shuffle,
    source_coordinates,
    transposed_conv_overlap,
)

# --------------------------------------------------------------------------------------
# Random configurations, F.interpolate as the oracle
# --------------------------------------------------------------------------------------

SCALES = [2.0, 0.5, 3.0, 1.0, 1.05, 0.999, 2.001, 1 / 3, 2.5, 0.7]


def random_config(rng: random.Random, dtype: torch.dtype) -> tuple[torch.Tensor, dict]:
    """A small input and interpolate kwargs; up- and downsampling, integer and not."""
    n = 0 if rng.random() < 0.03 else 1
    c = rng.choice([1, 3, 4])  # C > 3 lets channels-last inputs take torch's other kernel
    h, w = rng.randint(1, 16), rng.randint(1, 72)
    x = torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(rng.randrange(1 << 30)))
    x = (x * 200).to(dtype) if dtype == torch.uint8 else x.to(dtype)
    if rng.random() < 0.3:
        x = x.contiguous(memory_format=torch.channels_last)
    if rng.random() < 0.5:
        kwargs: dict = {"size": (rng.randint(1, 40), rng.randint(1, 100))}
        kwargs["recompute_scale_factor"] = rng.choice([None, False])
        return x, kwargs
    while True:
        sf = tuple(rng.choice([*SCALES, rng.uniform(0.2, 4.0)]) for _ in range(2))
        if math.floor(h * sf[0]) >= 1 and math.floor(w * sf[1]) >= 1:
            break
    scale = sf[0] if sf[0] == sf[1] and rng.random() < 0.5 else sf  # a number or a pair
    kwargs = {"scale_factor": scale, "recompute_scale_factor": rng.choice([None, False, True])}
    return x, kwargs


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.uint8]
)
def test_nearest_bitwise_equal_to_torch(dtype):
    rng = random.Random(f"nearest-{dtype}")
    for _ in range(120):
        x, kwargs = random_config(rng, dtype)
        expected = F.interpolate(x, mode="nearest", **kwargs)
        got = interpolate_nearest(x, **kwargs)
        assert got.dtype == x.dtype
        assert torch.equal(got, expected), (tuple(x.shape), x.is_contiguous(), kwargs)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_bilinear_matches_torch(dtype, tol, align_corners):
    rng = random.Random(f"bilinear-{dtype}-{align_corners}")
    for _ in range(100):
        x, kwargs = random_config(rng, dtype)
        expected = F.interpolate(x, mode="bilinear", align_corners=align_corners, **kwargs)
        got = interpolate_bilinear(x, align_corners=align_corners, **kwargs)
        assert got.shape == expected.shape and got.dtype == dtype
        assert torch.allclose(got, expected, rtol=0, atol=tol), (tuple(x.shape), kwargs)


def test_nearest_on_integer_labels_copies_values():
    # torch refuses int64 for nearest; going through float is exact for labels < 2**24.
    rng = random.Random(0)
    for _ in range(40):
        x, kwargs = random_config(rng, torch.float32)
        labels = (x * 20).long()
        expected = F.interpolate(labels.float(), mode="nearest", **kwargs).long()
        assert torch.equal(interpolate_nearest(labels, **kwargs), expected)


@pytest.mark.parametrize(
    ("in_hw", "out_hw"),
    [((1, 1), (1, 1)), ((1, 1), (5, 7)), ((4, 6), (1, 1)), ((5, 5), (1, 3)), ((3, 8), (3, 8))],
)
def test_degenerate_sizes_match_torch(in_hw, out_hw):
    x = torch.randn(2, 3, *in_hw, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.equal(interpolate_nearest(x, size=out_hw), F.interpolate(x, size=out_hw))
    for ac in (False, True):
        ref = F.interpolate(x, size=out_hw, mode="bilinear", align_corners=ac)
        got = interpolate_bilinear(x, size=out_hw, align_corners=ac)
        assert torch.allclose(got, ref, rtol=0, atol=1e-12)


def test_empty_batch_is_allowed_like_torch():
    x = torch.zeros(0, 3, 4, 4)
    assert interpolate_nearest(x, scale_factor=2).shape == F.interpolate(x, scale_factor=2).shape
    assert interpolate_bilinear(x, size=3).shape == (0, 3, 3, 3)


# --------------------------------------------------------------------------------------
# Hand-worked cases and the index formula's corner cases
# --------------------------------------------------------------------------------------


def test_nearest_hand_worked():
    # 5 -> 3: floor(d * 5/3) = floor(0), floor(1.67), floor(3.33) = 0, 1, 3
    row = torch.arange(5.0).view(1, 1, 1, 5)
    assert interpolate_nearest(row, size=(1, 3)).flatten().tolist() == [0.0, 1.0, 3.0]
    # x2 of [[1, 2], [3, 4]] repeats every value in a 2x2 block
    x = torch.tensor([[[[1, 2], [3, 4]]]])
    expected = [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert interpolate_nearest(x, scale_factor=2)[0, 0].tolist() == expected


def test_bilinear_hand_worked():
    x = torch.tensor([[[[0.0, 4.0]]]], dtype=torch.float64)
    # align_corners=False: u = (d + 0.5) * 2/4 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25;
    # values 4u, and u = 1.25 lies past the last pixel, which is repeated -> 4.
    assert interpolate_bilinear(x, size=(1, 4)).flatten().tolist() == [0.0, 1.0, 3.0, 4.0]
    # align_corners=True: u = d * (2 - 1) / (4 - 1) = 0, 1/3, 2/3, 1 -> 0, 4/3, 8/3, 4
    got = interpolate_bilinear(x, size=(1, 4), align_corners=True).flatten().tolist()
    assert got == pytest.approx([0.0, 4 / 3, 8 / 3, 4.0], abs=1e-15)


def test_nearest_is_float32_not_exact_integer_division():
    # 2 -> 82: exactly, output pixel 41 sits at 41 * 2/82 = 1 and should copy pixel 1.
    # torch rounds 2/82 to float32 (slightly below), so 41 * s = 0.99999994 -> pixel 0.
    row = torch.arange(2.0).view(1, 1, 1, 2)
    assert (41 * 2) // 82 == 1
    assert F.interpolate(row, size=(1, 82))[0, 0, 0, 41].item() == 0.0
    assert interpolate_nearest(row, size=(1, 82))[0, 0, 0, 41].item() == 0.0
    assert int(interpolate_nearest(row, size=(1, 82)).sum()) == 40  # 42 zeros, 40 ones


@pytest.mark.parametrize(("width", "expected_third"), [(10, 1.0), (100, 0.0)])
def test_nearest_two_torch_kernels_disagree_on_scale_2_001(width, expected_third):
    # scale_factor=2.001 gives exactly 2x the width. torch's small-output kernel
    # (H_out + W_out <= 128) shifts the index (d >> 1): pixel 2 copies 1. The generic
    # kernel uses floor(2 / 2.001) = 0. We follow both.
    row = torch.arange(float(width)).view(1, 1, 1, width)
    ref = F.interpolate(row, scale_factor=(1.0, 2.001), mode="nearest")
    got = interpolate_nearest(row, scale_factor=(1.0, 2.001))
    assert ref[0, 0, 0, 2].item() == expected_third
    assert torch.equal(got, ref)


def test_scale_factor_uses_one_over_scale_unless_recomputed():
    # 10 x 1.05 -> 10 pixels: bilinear then copies (torch short-cuts equal sizes);
    # 10 x 1.25 -> 12 pixels: s = 1/1.25 = 0.8 without recompute, s = 10/12 with it.
    x = torch.randn(1, 1, 1, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    assert torch.equal(interpolate_bilinear(x, scale_factor=(1.0, 1.05)), x)
    plain = interpolate_bilinear(x, scale_factor=(1.0, 1.25))
    recomputed = interpolate_bilinear(x, scale_factor=(1.0, 1.25), recompute_scale_factor=True)
    by_size = interpolate_bilinear(x, size=(1, 12))
    assert torch.equal(recomputed, by_size)
    assert not torch.allclose(plain, by_size)


def test_source_coordinates_hand_worked_and_on_a_ramp():
    # 4 -> 8, half-pixel: u = (d + 0.5) / 2 - 0.5 = -0.25 (-> 0), 0.25, 0.75, ..., 3.25 (-> 3.25)
    assert source_coordinates(4, 8).tolist() == [0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.25]
    assert source_coordinates(4, 7, align_corners=True).tolist() == [
        0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0
    ]  # fmt: skip
    # Bilinear interpolation of the ramp x_i = i returns the coordinate itself (clipped to
    # the last pixel), so torch's output on a ramp reveals its coordinates.
    for n_in, n_out, ac, sf in [(7, 19, False, None), (9, 4, False, None), (6, 15, True, None),
                                (5, 12, False, 2.5), (8, 5, True, 0.7)]:  # fmt: skip
        ramp = torch.arange(float(n_in), dtype=torch.float64).view(1, 1, 1, n_in)
        kw = {"scale_factor": (1.0, sf)} if sf else {"size": (1, n_out)}
        ref = F.interpolate(ramp, mode="bilinear", align_corners=ac, **kw).flatten()
        n_out = ref.numel()
        u = source_coordinates(n_in, n_out, align_corners=ac, scale_factor=sf).clamp(max=n_in - 1)
        assert torch.allclose(u, ref, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------

X = torch.zeros(1, 2, 4, 4)
ERRORS = [
    ((X,), {"size": 2, "scale_factor": 2}, ValueError, "exactly one"),
    ((X,), {}, ValueError, "exactly one"),
    ((X,), {"size": 3, "recompute_scale_factor": True}, ValueError, "no meaning"),
    ((X,), {"size": (2, 3, 4)}, ValueError, "pair"),
    ((X,), {"size": 0}, ValueError, "positive"),
    ((X,), {"size": (4, -1)}, ValueError, "positive"),
    ((X,), {"size": 2.5}, TypeError, "ints"),
    ((X,), {"scale_factor": (2.0,)}, ValueError, "pair"),
    ((X,), {"scale_factor": 0.0}, ValueError, "positive"),
    ((X,), {"scale_factor": -2.0}, ValueError, "positive"),
    ((X,), {"scale_factor": 0.2}, ValueError, ">= 1"),  # floor(4 * 0.2) = 0
    ((torch.zeros(1, 0, 4, 4),), {"size": 2}, ValueError, "C, H and W"),
    ((torch.zeros(1, 2, 0, 4),), {"size": 2}, ValueError, "C, H and W"),
]


@pytest.mark.parametrize("fn", [interpolate_nearest, interpolate_bilinear])
@pytest.mark.parametrize(("args", "kwargs", "exc", "match"), ERRORS)
def test_errors_where_torch_errors(fn, args, kwargs, exc, match):
    mode = "nearest" if fn is interpolate_nearest else "bilinear"
    with pytest.raises(Exception):  # noqa: B017 - torch raises RuntimeError or ValueError
        F.interpolate(*args, mode=mode, **kwargs)
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


@pytest.mark.parametrize("fn", [interpolate_nearest, interpolate_bilinear])
def test_input_errors(fn):
    with pytest.raises(ValueError, match="3-D"):
        fn(torch.zeros(2, 4, 4), size=2)
    with pytest.raises(TypeError, match="tensor"):
        fn([[1.0]], size=2)
    with pytest.raises(TypeError, match="recompute_scale_factor"):
        fn(X, scale_factor=2, recompute_scale_factor="yes")


def test_bilinear_refuses_integer_tensors():
    labels = torch.zeros(1, 1, 4, 4, dtype=torch.int64)
    with pytest.raises(RuntimeError):
        F.interpolate(labels, size=8, mode="bilinear")
    with pytest.raises(TypeError, match="interpolate_nearest"):
        interpolate_bilinear(labels, size=8)
    with pytest.raises(TypeError, match="align_corners"):
        interpolate_bilinear(X, size=8, align_corners=None)


def test_source_coordinates_errors():
    with pytest.raises(ValueError, match="output_size"):
        source_coordinates(4, 0)
    with pytest.raises(TypeError, match="input_size"):
        source_coordinates(4.0, 2)
    with pytest.raises(ValueError, match="scale_factor"):
        source_coordinates(4, 2, scale_factor=-1.0)


# --------------------------------------------------------------------------------------
# Label maps: what the page shows
# --------------------------------------------------------------------------------------


def test_bilinear_invents_a_class_nearest_does_not():
    # A disc of class 2 on class 0, upsampled x4: bilinear blends 0 and 2 along the edge.
    yy, xx = torch.meshgrid(torch.arange(12), torch.arange(12), indexing="ij")
    label = torch.where((yy - 5.5) ** 2 + (xx - 5.5) ** 2 < 16, 2, 0)[None, None]
    blurred = F.interpolate(label.float(), scale_factor=4, mode="bilinear")
    assert ((blurred > 0) & (blurred < 2) & (blurred != 1)).any()  # fractional values
    assert 1 in blurred.round().unique().tolist()  # the non-existent class 1
    assert interpolate_nearest(label, scale_factor=4).unique().tolist() == [0, 2]


# --------------------------------------------------------------------------------------
# Downsampling facts the page states
# --------------------------------------------------------------------------------------


def test_strided_conv_is_conv_then_subsample_and_avgpool_is_a_conv():
    gen = torch.Generator().manual_seed(4)
    x, w = torch.randn(2, 3, 9, 10, generator=gen), torch.randn(5, 3, 3, 3, generator=gen)
    strided = F.conv2d(x, w, stride=2, padding=1)
    assert torch.allclose(strided, F.conv2d(x, w, padding=1)[..., ::2, ::2], atol=1e-6)
    assert strided.shape == (2, 5, 5, 5)  # floor((9 + 2 - 3) / 2) + 1, floor((10 + 2 - 3) / 2) + 1
    box = torch.full((3, 1, 2, 2), 0.25)  # depthwise 2x2 mean
    assert torch.allclose(F.avg_pool2d(x, 2), F.conv2d(x, box, stride=2, groups=3), atol=1e-6)
    assert F.max_pool2d(x, 2).shape == (2, 3, 4, 5)  # the last odd row/column is dropped


def test_pooling_on_one_bright_pixel():
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 0] = 1.0
    assert F.max_pool2d(x, 2)[0, 0].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert F.avg_pool2d(x, 2)[0, 0].tolist() == [[0.25, 0.0], [0.0, 0.0]]
    y = torch.zeros(1, 1, 4, 4)
    y[0, 0, 0, 1] = 1.0  # moved inside the same 2x2 window: max pool cannot tell
    assert torch.equal(F.max_pool2d(x, 2), F.max_pool2d(y, 2))


def test_stripes_alias_under_subsampling_not_under_averaging():
    stripes = (torch.arange(16) % 2).float().expand(1, 1, 16, 16)  # 0, 1, 0, 1, ... columns
    assert interpolate_nearest(stripes, scale_factor=0.5).unique().tolist() == [0.0]
    assert F.avg_pool2d(stripes, 2).unique().tolist() == [0.5]
    aa = F.interpolate(stripes, scale_factor=0.5, mode="bilinear", antialias=True)
    inner = aa[..., 1:-1]  # the filter is renormalised at the border
    assert torch.allclose(inner, torch.full_like(inner, 0.5), atol=1e-6)


# --------------------------------------------------------------------------------------
# Transposed convolution and the checkerboard
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("s", [1, 2, 3])
@pytest.mark.parametrize("p", [0, 1])
def test_overlap_matches_conv_transpose_with_ones(n, k, s, p):
    full = (n - 1) * s + k
    if full - 2 * p < 1:
        with pytest.raises(ValueError, match="crops"):
            transposed_conv_overlap(n, k, s, padding=p)
        return
    layer = nn.ConvTranspose1d(1, 1, k, stride=s, padding=p, bias=False)
    nn.init.ones_(layer.weight)
    with torch.no_grad():
        expected = layer(torch.ones(1, 1, n))[0, 0]
    got = transposed_conv_overlap(n, k, s, padding=p)
    assert got.tolist() == expected.long().tolist()


def test_checkerboard_of_kernel3_stride2():
    layer = nn.ConvTranspose2d(1, 1, kernel_size=3, stride=2, bias=False)
    nn.init.ones_(layer.weight)
    with torch.no_grad():
        out = layer(torch.ones(1, 1, 6, 6))[0, 0]  # (6 - 1) * 2 + 3 = 13
    assert out.shape == (13, 13)
    counts = transposed_conv_overlap(6, 3, 2)
    assert torch.equal(out.long(), counts[:, None] * counts[None, :])
    inner = out[1:-1, 1:-1]  # away from the border: 1 and 2 alternate along each axis
    assert inner.unique().tolist() == [1.0, 2.0, 4.0]
    assert (inner[:, 1:] != inner[:, :-1]).all() and (inner[1:] != inner[:-1]).all()
    # kernel 4, stride 2, padding 1 (divisible): flat inside, 1 on the border
    even = transposed_conv_overlap(6, 4, 2, padding=1)
    assert even[1:-1].unique().tolist() == [2] and even[0] == even[-1] == 1


def test_overlap_errors():
    with pytest.raises(ValueError, match="stride"):
        transposed_conv_overlap(4, 3, 0)
    with pytest.raises(TypeError, match="kernel_size"):
        transposed_conv_overlap(4, 3.0, 2)
    with pytest.raises(ValueError, match="padding"):
        transposed_conv_overlap(4, 3, 2, padding=-1)


# --------------------------------------------------------------------------------------
# Pixel shuffle and ICNR
# --------------------------------------------------------------------------------------


def shuffle_by_loops(x: torch.Tensor, r: int) -> torch.Tensor:
    """The definition: out[b, c, h*r + i, w*r + j] = x[b, c*r*r + i*r + j, h, w]."""
    b, c, h, w = x.shape
    out = torch.empty(b, c // (r * r), h * r, w * r, dtype=x.dtype)
    for ci in range(c // (r * r)):
        for i in range(r):
            for j in range(r):
                out[:, ci, i::r, j::r] = x[:, ci * r * r + i * r + j]
    return out


@pytest.mark.parametrize(("shape", "r"), [((2, 8, 3, 5), 2), ((1, 9, 4, 4), 3), ((1, 3, 2, 2), 1)])
def test_pixel_shuffle_matches_torch_and_the_definition(shape, r):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(5))
    ref = F.pixel_shuffle(x, r)
    assert ref.shape == (shape[0], shape[1] // r**2, shape[2] * r, shape[3] * r)
    assert torch.equal(ref, shuffle_by_loops(x, r))
    # F.pixel_shuffle is a reshape and a permute, written out here independently:
    b, c, h, w = shape
    manual = x.view(b, c // r**2, r, r, h, w).permute(0, 1, 4, 2, 5, 3).reshape(ref.shape)
    assert torch.equal(ref, manual)
    assert torch.equal(pixel_shuffle(x, r), ref)


def test_pixel_shuffle_errors():
    with pytest.raises(ValueError, match="divisible"):
        pixel_shuffle(torch.zeros(1, 6, 2, 2), 2)
    with pytest.raises(ValueError, match="shape"):
        pixel_shuffle(torch.zeros(6, 2, 2), 2)
    with pytest.raises(TypeError, match="upscale_factor"):
        pixel_shuffle(torch.zeros(1, 4, 2, 2), 2.0)


def test_icnr_makes_subpixel_conv_a_nearest_upsampling():
    torch.manual_seed(6)
    r, c_out = 3, 2
    conv = nn.Conv2d(4, c_out * r * r, kernel_size=3, padding=1, bias=False)
    icnr_(conv.weight.data, r)
    sub = conv.weight[:: r * r]  # the drawn (C, C_in, 3, 3) kernel
    x = torch.randn(2, 4, 5, 6)
    with torch.no_grad():
        got = F.pixel_shuffle(conv(x), r)
        expected = F.interpolate(F.conv2d(x, sub, padding=1), scale_factor=r, mode="nearest")
    assert torch.equal(got, expected)
    with pytest.raises(ValueError, match="divisible"):
        icnr_(torch.empty(5, 4, 3, 3), 2)
