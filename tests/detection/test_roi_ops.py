"""Tests for knowledge.detection.roi_ops.

Oracles:

* torchvision's pure-Python ``roi_align`` (``torchvision.ops.roi_align._roi_align``, the
  eager function under its lazy ``torch.compile``), which torchvision itself runs when its
  compiled ops are missing. It omits one rule of the C++/CUDA kernels: a sample point more
  than one cell outside the feature map contributes 0 there, while the Python path reads
  the border. It is therefore used for boxes whose samples stay within [-1, size].
* plain-Python loops written below from the semantics of torchvision's C++ kernels
  (``csrc/ops/cpu/roi_align_common.h`` and ``roi_pool_kernel.cpp``): every sample point and
  every cell one at a time. They cover boxes outside the map and RoI Pooling, whose
  compiled kernel does not load here.
* closed forms: RoI Align of a linear map is the map at each bin's centre.
"""

from __future__ import annotations

import math
import sys

import pytest
import torch
from oracles import torchvision_or_skip

import knowledge.detection.roi_ops as roi_ops_module
from knowledge.detection import roi_align, roi_pool


def torchvision_roi_align():
    torchvision_or_skip()
    module = sys.modules["torchvision.ops.roi_align"]  # the name `roi_align` is the function
    return module._roi_align.__wrapped__  # eager, without torch.compile


def random_rois(k: int, n: int, seed: int, *, extent: float, size: float) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    batch = torch.randint(0, n, (k, 1), generator=gen).double()
    xy = torch.rand(k, 2, generator=gen, dtype=torch.float64) * extent
    wh = torch.rand(k, 2, generator=gen, dtype=torch.float64) * size
    return torch.cat([batch, xy, xy + wh], dim=1)


# --------------------------------------------------------------------------------------
# Plain-Python references from the C++ kernels' semantics
# --------------------------------------------------------------------------------------


def reference_roi_align(x, rois, ph, pw, scale, sampling_ratio, aligned) -> torch.Tensor:
    """Sample by sample; out-of-map samples (< -1 or > size) contribute 0."""
    _, c, height, width = x.shape
    out = torch.zeros(len(rois), c, ph, pw, dtype=torch.float64)
    feat = x.double()
    for r, (b, x1, y1, x2, y2) in enumerate(rois.tolist()):
        off = 0.5 if aligned else 0.0
        sx, sy = x1 * scale - off, y1 * scale - off
        rw, rh = x2 * scale - off - sx, y2 * scale - off - sy
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bw, bh = rw / pw, rh / ph
        gy = sampling_ratio if sampling_ratio > 0 else math.ceil(rh / ph)
        gx = sampling_ratio if sampling_ratio > 0 else math.ceil(rw / pw)
        for i in range(ph):
            for j in range(pw):
                total = torch.zeros(c, dtype=torch.float64)
                for iy in range(gy):
                    y = sy + i * bh + (iy + 0.5) * bh / gy
                    for ix in range(gx):
                        xx = sx + j * bw + (ix + 0.5) * bw / gx
                        if y < -1 or y > height or xx < -1 or xx > width:
                            continue
                        yc, xc = max(y, 0.0), max(xx, 0.0)
                        y0, x0 = int(yc), int(xc)
                        if y0 >= height - 1:
                            y0 = y1_ = height - 1
                            yc = float(y0)
                        else:
                            y1_ = y0 + 1
                        if x0 >= width - 1:
                            x0 = x1_ = width - 1
                            xc = float(x0)
                        else:
                            x1_ = x0 + 1
                        ly, lx = yc - y0, xc - x0
                        total += (
                            (1 - ly) * (1 - lx) * feat[int(b), :, y0, x0]
                            + (1 - ly) * lx * feat[int(b), :, y0, x1_]
                            + ly * (1 - lx) * feat[int(b), :, y1_, x0]
                            + ly * lx * feat[int(b), :, y1_, x1_]
                        )
                out[r, :, i, j] = total / max(gy * gx, 1)
    return out


def c_round(v: float) -> int:
    """C's round(): halves away from zero."""
    return math.floor(abs(v) + 0.5) * (1 if v >= 0 else -1)


def reference_roi_pool(x, rois, ph, pw, scale) -> torch.Tensor:
    """Cell by cell: rounded box, floor/ceil bins clipped to the map, empty bin -> 0."""
    _, c, height, width = x.shape
    out = torch.zeros(len(rois), c, ph, pw, dtype=x.dtype)
    for r, (b, x1, y1, x2, y2) in enumerate(rois.tolist()):
        sx, sy, ex, ey = (c_round(v * scale) for v in (x1, y1, x2, y2))
        rw, rh = max(ex - sx + 1, 1), max(ey - sy + 1, 1)
        for i in range(ph):
            for j in range(pw):
                h0 = min(max(math.floor(i * rh / ph) + sy, 0), height)
                h1 = min(max(math.ceil((i + 1) * rh / ph) + sy, 0), height)
                w0 = min(max(math.floor(j * rw / pw) + sx, 0), width)
                w1 = min(max(math.ceil((j + 1) * rw / pw) + sx, 0), width)
                if h1 <= h0 or w1 <= w0:
                    continue  # empty bin: 0
                out[r, :, i, j] = x[int(b), :, h0:h1, w0:w1].amax(dim=(1, 2))
    return out


# --------------------------------------------------------------------------------------
# RoI Align
# --------------------------------------------------------------------------------------

ALIGN_CASES = [  # output size, spatial scale, sampling ratio, aligned
    ((7, 7), 1.0, -1, False),
    ((7, 7), 1.0, 2, True),
    ((3, 4), 0.5, 0, False),
    ((3, 4), 0.5, -1, True),
    ((2, 5), 0.25, 1, False),
    ((1, 1), 0.25, 3, True),
]


@pytest.mark.parametrize(("size", "scale", "ratio", "aligned"), ALIGN_CASES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_roi_align_matches_torchvision(size, scale, ratio, aligned, dtype):
    tv_roi_align = torchvision_roi_align()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 12, 15, generator=gen, dtype=torch.float64).to(dtype)
    # boxes inside the 12 x 15 map (before scaling): every sample lies within [-1, size]
    rois = random_rois(25, 2, 1, extent=5 / scale, size=6 / scale).to(dtype)
    rois[0, 1:] = torch.tensor([3.0, 3.0, 3.2, 3.1]) / scale  # smaller than one cell
    rois[1, 1:] = torch.tensor([4.0, 2.0, 4.0, 2.0]) / scale  # empty box
    ours = roi_align(x, rois, size, spatial_scale=scale, sampling_ratio=ratio, aligned=aligned)
    expected = tv_roi_align(x, rois, scale, size[0], size[1], ratio, aligned)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(ours, expected, rtol=tol, atol=tol)


def test_roi_align_gradient_matches_torchvision():
    tv_roi_align = torchvision_roi_align()
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 10, 10, generator=gen, dtype=torch.float64, requires_grad=True)
    rois = random_rois(12, 2, 3, extent=10, size=8)
    weight = torch.randn(12, 4, 3, 3, generator=gen, dtype=torch.float64)
    (roi_align(x, rois, 3, spatial_scale=0.5, sampling_ratio=2) * weight).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    (tv_roi_align(x, rois, 0.5, 3, 3, 2, False) * weight).sum().backward()
    torch.testing.assert_close(ours, x.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("size", "scale", "ratio", "aligned"), ALIGN_CASES)
def test_roi_align_outside_the_map_matches_kernel_semantics(size, scale, ratio, aligned):
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 2, 6, 7, generator=gen, dtype=torch.float64)
    rois = (
        random_rois(12, 2, 5, extent=12 / scale, size=10 / scale)
        - torch.tensor([0.0, 3.0, 3.0, 3.0, 3.0], dtype=torch.float64) / scale
    )  # boxes hang over every border, some entirely outside
    ours = roi_align(x, rois, size, spatial_scale=scale, sampling_ratio=ratio, aligned=aligned)
    expected = reference_roi_align(x, rois, *size, scale, ratio, aligned)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-12)


def test_roi_align_of_a_linear_map_is_the_bin_centre():
    # f(y, x) = 4 y + x is reproduced exactly by bilinear interpolation, and the sample
    # points of a bin are symmetric about its centre, so each output is f(centre). With
    # aligned=True the box [2.5, 1.5, 6.5, 5.5] starts at cell coordinate (1, 2) and its
    # 2 x 2 bins are 2 cells wide: centres x = 3, 5 and y = 2, 4.
    rows, cols = torch.arange(8.0, dtype=torch.float64)[:, None], torch.arange(8.0)[None, :]
    x = (4 * rows + cols).reshape(1, 1, 8, 8)
    box = torch.tensor([[0.0, 2.5, 1.5, 6.5, 5.5]], dtype=torch.float64)
    for ratio in (1, 2, 3, -1):
        out = roi_align(x, box, 2, sampling_ratio=ratio, aligned=True)[0, 0]
        expected = torch.tensor([[4 * 2 + 3, 4 * 2 + 5], [4 * 4 + 3, 4 * 4 + 5]]).double()
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


def test_roi_align_box_list_equals_rows_with_batch_index():
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(3, 2, 9, 9, generator=gen)
    per_image = [torch.rand(k, 2, generator=gen) * 8 for k in (2, 0, 3)]
    per_image = [torch.cat([b, b + 4], dim=1) for b in per_image]
    rows = torch.cat(
        [torch.cat([torch.full((len(b), 1), float(i)), b], 1) for i, b in enumerate(per_image)]
    )
    as_list = roi_align(x, per_image, (2, 3), spatial_scale=1.0, sampling_ratio=2)
    assert as_list.shape == (5, 2, 2, 3)
    assert torch.equal(as_list, roi_align(x, rows, (2, 3), sampling_ratio=2))


def test_roi_align_chunks_give_the_same_result(monkeypatch):
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, 3, 10, 10, generator=gen, dtype=torch.float64)
    rois = random_rois(40, 2, 8, extent=8, size=6)
    whole = roi_align(x, rois, 3, sampling_ratio=-1)
    monkeypatch.setattr(roi_ops_module, "_CHUNK_ELEMENTS", 200)  # a few boxes per chunk
    assert torch.equal(roi_align(x, rois, 3, sampling_ratio=-1), whole)


def test_roi_align_empty():
    x = torch.randn(1, 4, 5, 5)
    out = roi_align(x, torch.zeros(0, 5), 7)
    assert out.shape == (0, 4, 7, 7)
    assert roi_align(x, [torch.zeros(0, 4)], (2, 3)).shape == (0, 4, 2, 3)


# --------------------------------------------------------------------------------------
# RoI Pooling
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "scale"), [((7, 7), 1.0), ((3, 4), 0.5), ((2, 5), 0.25), ((1, 1), 1.0)]
)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_roi_pool_matches_reference(size, scale, dtype):
    gen = torch.Generator().manual_seed(10)
    x = torch.randn(2, 3, 9, 11, generator=gen, dtype=torch.float64).to(dtype)
    rois = (
        random_rois(30, 2, 11, extent=12 / scale, size=9 / scale)
        - torch.tensor([0.0, 2.0, 2.0, 2.0, 2.0], dtype=torch.float64) / scale
    )
    rois[0, 1:] = torch.tensor([2.5, 0.5, 4.5, 1.5]) / scale  # halves: C rounds them up
    rois[1, 1:] = torch.tensor([6.0, 6.0, 2.0, 2.0]) / scale  # x2 < x1: forced to 1 x 1
    rois = rois.to(dtype)
    expected = reference_roi_pool(x, rois, *size, scale)
    assert torch.equal(roi_pool(x, rois, size, spatial_scale=scale), expected)


def test_roi_pool_by_hand():
    # 4 x 4 map, value 4 * row + column. Box x in [0.5, 2.5], y in [0, 1.5] at scale 1:
    # C round(0.5) = 1, round(2.5) = 3, round(1.5) = 2 (torch.round would give 0, 2, 2).
    # Columns 1..3 (3 cells), rows 0..2 (3 cells); 1 x 1 output: max of rows 0-2, cols 1-3.
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert roi_pool(x, torch.tensor([[0.0, 0.5, 0.0, 2.5, 1.5]]), 1).item() == 4 * 2 + 3
    # 2 x 2 bins over columns 1-3: width 3 / 2 = 1.5 -> [0, 2) and [1, 3) after the start.
    out = roi_pool(x, torch.tensor([[0.0, 0.5, 0.0, 2.5, 1.5]]), 2)
    assert out[0, 0].tolist() == [[4 * 1 + 2, 4 * 1 + 3], [4 * 2 + 2, 4 * 2 + 3]]


def test_roi_pool_empty_bins_are_zero():
    # A box entirely right of a 4-wide map: every bin is clipped to nothing -> 0, even
    # though all values are negative (a max over nothing would be -inf).
    x = -torch.ones(1, 2, 4, 4)
    out = roi_pool(x, torch.tensor([[0.0, 6.0, 0.0, 9.0, 3.0]]), 2)
    assert torch.equal(out, torch.zeros(1, 2, 2, 2))
    half = roi_pool(x, torch.tensor([[0.0, 2.0, 0.0, 5.0, 3.0]]), (1, 2))  # right bin empty
    assert half[0, :, 0].tolist() == [[-1.0, 0.0], [-1.0, 0.0]]


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", [roi_align, roi_pool])
def test_errors(op):
    x = torch.zeros(2, 3, 8, 8)
    good = torch.tensor([[0.0, 1, 1, 4, 4]])
    with pytest.raises(ValueError, match=r"input must have shape \(N, C, H, W\)"):
        op(torch.zeros(3, 8, 8), good, 2)
    with pytest.raises(TypeError, match="input must be floating point"):
        op(torch.zeros(2, 3, 8, 8, dtype=torch.long), good, 2)
    with pytest.raises(ValueError, match=r"boxes must be a tensor of shape \(K, 5\)"):
        op(x, torch.zeros(3, 4), 2)
    with pytest.raises(ValueError, match=r"boxes\[1\] must be a tensor of shape \(L, 4\)"):
        op(x, [torch.zeros(1, 4), torch.zeros(1, 5)], 2)
    with pytest.raises(ValueError, match=r"batch indices in \[0, 2\), got \[2.0\]"):
        op(x, torch.tensor([[2.0, 1, 1, 4, 4]]), 2)
    with pytest.raises(ValueError, match="finite"):
        op(x, torch.tensor([[0.0, 1, math.nan, 4, 4]]), 2)
    with pytest.raises(ValueError, match="output_size must be"):
        op(x, good, (2, 0))
    with pytest.raises(ValueError, match="spatial_scale must be a finite number > 0"):
        op(x, good, 2, spatial_scale=0.0)
    with pytest.raises(TypeError, match="boxes must be a"):
        op(x, "boxes", 2)
    with pytest.raises(ValueError, match="boxes for 3 images but input has 2"):
        op(x, [torch.zeros(1, 4)] * 3, 2)
