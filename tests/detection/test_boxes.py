"""Tests for knowledge.detection.boxes.

Oracles: torchvision's ``box_iou``, ``box_area``, ``clip_boxes_to_image`` and
``remove_small_boxes`` (pure Python, they run on CPU torch); for NMS, whose torchvision
kernel is compiled and does not load here, a plain-Python greedy NMS written below from the
definition (``oracles.reference_nms``: stable descending sort, suppress when IoU >
threshold, only kept boxes suppress), in float64 and in emulated float32; and cases
worked by hand.
"""

from __future__ import annotations

import math

import pytest
import torch
from oracles import reference_nms, torchvision_or_skip

from knowledge.detection import (
    batched_nms,
    box_area,
    box_iou,
    clip_boxes_to_image,
    nms,
    remove_small_boxes,
)


def random_boxes(n: int, seed: int, *, integer: bool = False, dtype=torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=gen, dtype=torch.float64) * 100
    wh = torch.rand(n, 2, generator=gen, dtype=torch.float64) * 40
    if integer:  # integer corners: many pairs have IoU exactly 1/2, 1/3, 3/10, ...
        xy, wh = xy.round(), wh.round()
    return torch.cat([xy, xy + wh], dim=1).to(dtype)


def tied_scores(n: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed + 1000)
    return torch.rand(n, generator=gen, dtype=torch.float64).round(decimals=1).to(dtype)


# --------------------------------------------------------------------------------------
# IoU, area, clipping against torchvision
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.int32])
def test_box_iou_matches_torchvision(dtype):
    tv = torchvision_or_skip()
    a = random_boxes(37, 0, integer=True).to(dtype)
    b = random_boxes(23, 1, integer=True).to(dtype)
    b[:3] = torch.tensor([[5, 5, 5, 9], [0, 0, 0, 0], [2, 2, 8, 8]]).to(dtype)  # degenerate
    a[:2] = torch.tensor([[5, 5, 5, 9], [0, 0, 0, 0]]).to(dtype)  # 0/0 -> NaN, like torchvision
    expected = tv.ops.box_iou(a, b)
    ours = box_iou(a, b)
    assert ours.dtype == expected.dtype
    torch.testing.assert_close(ours, expected, rtol=0, atol=0, equal_nan=True)


def test_box_iou_random_float_matches_torchvision():
    tv = torchvision_or_skip()
    a, b = random_boxes(50, 2, dtype=torch.float32), random_boxes(40, 3, dtype=torch.float32)
    torch.testing.assert_close(box_iou(a, b), tv.ops.box_iou(a, b), rtol=0, atol=0)


def test_box_iou_by_hand():
    # [0,0,2,2] and [1,1,3,3]: intersection [1,1,2,2] = 1, union 4 + 4 - 1 = 7.
    # [0,0,2,2] and [0,0,2,1]: the second lies inside the first: 2 / 4.
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 1.0], [2.0, 0.0, 4.0, 2.0]])
    assert box_iou(a, b).tolist() == [[pytest.approx(1 / 7), 0.5, 0.0]]  # touching edge: 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.int16])
def test_box_area_matches_torchvision(dtype):
    tv = torchvision_or_skip()
    boxes = random_boxes(30, 4, integer=True).to(dtype)
    expected = tv.ops.box_area(boxes)
    assert box_area(boxes).dtype == expected.dtype
    assert torch.equal(box_area(boxes), expected)


def test_clip_and_remove_small_match_torchvision():
    tv = torchvision_or_skip()
    boxes = random_boxes(40, 5) - 20  # reaches outside a 60 x 50 image on every side
    assert torch.equal(
        clip_boxes_to_image(boxes, (60, 50)), tv.ops.clip_boxes_to_image(boxes, (60, 50))
    )
    for min_size in (0.0, 3.0, 17.5):
        expected = tv.ops.remove_small_boxes(boxes, min_size)
        assert torch.equal(remove_small_boxes(boxes, min_size), expected)


# --------------------------------------------------------------------------------------
# NMS against a plain-Python greedy reference
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("iou_threshold", [0.3, 0.5, 0.7])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("n", "seed"), [(10, 0), (100, 1), (300, 2)])
def test_nms_matches_reference_with_ties(n, seed, dtype, iou_threshold):
    boxes = random_boxes(n, seed, integer=seed % 2 == 0, dtype=dtype)
    scores = tied_scores(n, seed, dtype)  # 11 distinct values: many ties
    assert scores.unique().numel() < n
    assert nms(boxes, scores, iou_threshold).tolist() == reference_nms(boxes, scores, iou_threshold)


@pytest.mark.parametrize("iou_threshold", [0.3, 0.5])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_nms_exact_threshold_cases_are_exercised(iou_threshold, dtype):
    """Small integer boxes: many pairs have IoU exactly 3/10 or 1/2, the boundary case."""
    gen = torch.Generator().manual_seed(9)
    xy = torch.randint(0, 8, (300, 2), generator=gen)
    boxes = torch.cat([xy, xy + torch.randint(1, 6, (300, 2), generator=gen)], dim=1).to(dtype)
    a = box_area(boxes.double())
    lt = torch.maximum(boxes[:, None, :2], boxes[None, :, :2]).double()
    rb = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:]).double()
    inter = (rb - lt).clamp(min=0).prod(dim=2)
    union = a[:, None] + a[None, :] - inter
    num, den = (3, 10) if iou_threshold == 0.3 else (1, 2)
    assert (inter * den == union * num).sum() > 0  # the boundary case occurs in this data
    scores = tied_scores(300, 9, dtype)
    assert nms(boxes, scores, iou_threshold).tolist() == reference_nms(boxes, scores, iou_threshold)


def test_nms_iou_at_threshold_is_kept():
    # [0,0,4,1] and [0,0,2,1]: intersection 2, union 4 + 2 - 2 = 4, IoU exactly 0.5.
    boxes = torch.tensor([[0.0, 0.0, 4.0, 1.0], [0.0, 0.0, 2.0, 1.0]])
    scores = torch.tensor([0.9, 0.8])
    assert nms(boxes, scores, 0.5).tolist() == [0, 1]  # 0.5 > 0.5 is false
    assert nms(boxes, scores, 0.49).tolist() == [0]


def test_nms_float32_threshold_is_compared_in_float64():
    # [0,0,5,1] and [2,0,10,1]: intersection 3, union 5 + 8 - 3 = 10, IoU 3/10. In float32,
    # 3/10 rounds to 0.300000011920929 > 0.3, so a float32 kernel comparing with the double
    # 0.3 suppresses; in float64, 3/10 == 0.3 and the box is kept.
    boxes = torch.tensor([[0.0, 0.0, 5.0, 1.0], [2.0, 0.0, 10.0, 1.0]])
    scores = torch.tensor([0.9, 0.8])
    assert nms(boxes, scores, 0.3).tolist() == [0]
    assert nms(boxes.double(), scores.double(), 0.3).tolist() == [0, 1]


def test_nms_ties_keep_index_order():
    # Three identical boxes with equal scores: the stable sort visits index 0 first.
    boxes = torch.tensor([[0.0, 0.0, 2.0, 2.0]] * 3)
    assert nms(boxes, torch.tensor([0.5, 0.5, 0.5]), 0.5).tolist() == [0]
    # Equal scores, disjoint boxes: output in index order after the higher score.
    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0], [9.0, 9.0, 10.0, 10.0]])
    assert nms(boxes, torch.tensor([0.2, 0.7, 0.2]), 0.5).tolist() == [1, 0, 2]


def test_nms_suppressed_boxes_do_not_suppress():
    # A=[0,0,10,1] (0.9), B=[4,0,14,1] (0.8), C=[8,0,18,1] (0.7), all of height 1.
    # IoU(A,B) = 6/14 > 0.4 -> B suppressed. IoU(B,C) = 6/14 too, but B is gone.
    # IoU(A,C) = 2/18 <= 0.4 -> C kept.
    boxes = torch.tensor([[0.0, 0, 10, 1], [4, 0, 14, 1], [8, 0, 18, 1]])
    assert nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.4).tolist() == [0, 2]


def test_nms_degenerate_and_empty():
    empty = nms(torch.zeros(0, 4), torch.zeros(0), 0.5)
    assert empty.dtype == torch.int64 and empty.shape == (0,)
    # Two identical zero-area boxes: IoU 0/0 is NaN, not > threshold: both kept.
    # A zero-area box inside a big one: intersection 0: kept.
    boxes = torch.tensor([[1.0, 1, 1, 5], [1, 1, 1, 5], [0, 0, 10, 10]])
    assert nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.1).tolist() == [0, 1, 2]
    assert nms(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([0.3]), 0.5).tolist() == [0]


def test_nms_output_sorted_by_score():
    boxes, scores = (
        random_boxes(200, 7),
        torch.rand(200, generator=torch.Generator().manual_seed(7)),
    )
    keep = nms(boxes, scores.double(), 0.5)
    assert torch.all(scores[keep][:-1] >= scores[keep][1:])


# --------------------------------------------------------------------------------------
# batched_nms
# --------------------------------------------------------------------------------------


def reference_batched_nms(boxes, scores, idxs, iou_threshold) -> list[int]:
    """Plain per-category NMS, merged by decreasing score (ties by index)."""
    kept = []
    for c in sorted(set(idxs.tolist())):
        members = [i for i, v in enumerate(idxs.tolist()) if v == c]
        local = reference_nms(boxes[members], scores[members], iou_threshold)
        kept.extend(members[j] for j in local)
    s = scores.tolist()
    return sorted(kept, key=lambda i: (-s[i], i))


@pytest.mark.parametrize("iou_threshold", [0.3, 0.5, 0.7])
@pytest.mark.parametrize("shift", [0.0, -60.0])  # -60: negative coordinates
def test_batched_nms_matches_per_class_nms(iou_threshold, shift):
    boxes = random_boxes(200, 8, integer=True) + shift
    scores = tied_scores(200, 8)
    idxs = torch.randint(0, 5, (200,), generator=torch.Generator().manual_seed(8))
    expected = reference_batched_nms(boxes, scores, idxs, iou_threshold)
    assert batched_nms(boxes, scores, idxs, iou_threshold).tolist() == expected


def test_batched_nms_categories_do_not_interact():
    boxes = torch.tensor([[0.0, 0, 4, 4]] * 4)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    assert batched_nms(boxes, scores, torch.tensor([0, 1, 0, 2]), 0.5).tolist() == [0, 1, 3]
    assert (
        batched_nms(
            torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5
        ).numel()
        == 0
    )


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def test_errors():
    good = torch.tensor([[0.0, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"boxes1 must have shape \(N, 4\), got \(1, 5\)"):
        box_iou(torch.zeros(1, 5), good)
    with pytest.raises(TypeError, match="boxes2 must be a tensor"):
        box_iou(good, [[0, 0, 1, 1]])
    with pytest.raises(TypeError, match="real coordinates"):
        box_area(torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="boxes must be floating point"):
        nms(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1), 0.5)
    with pytest.raises(ValueError, match="boxes has 1 rows but scores has 2"):
        nms(good, torch.zeros(2), 0.5)
    with pytest.raises(ValueError, match=r"scores must be a tensor of shape \(N,\)"):
        nms(good, torch.zeros(1, 1), 0.5)
    with pytest.raises(ValueError, match="NaN"):
        nms(good, torch.zeros(1), math.nan)
    with pytest.raises(TypeError, match="iou_threshold must be a real number"):
        nms(good, torch.zeros(1), "0.5")
    with pytest.raises(TypeError, match="idxs must be an integer tensor"):
        batched_nms(good, torch.zeros(1), torch.zeros(1), 0.5)
    with pytest.raises(ValueError, match=r"idxs must have shape \(1,\)"):
        batched_nms(good, torch.zeros(1), torch.zeros(2, dtype=torch.long), 0.5)
    with pytest.raises(ValueError, match="size must be"):
        clip_boxes_to_image(good, (10,))
