r"""Axis-aligned boxes, IoU and non-maximum suppression, with torchvision's semantics.

Boxes are rows $(x_1, y_1, x_2, y_2)$ with $x_1 \le x_2$ and $y_1 \le y_2$, in pixels of
the image they belong to. The intersection over union of two boxes $A$ and $B$ is

$$
\mathrm{IoU}(A, B) = \frac{|A \cap B|}{|A| + |B| - |A \cap B|}.
$$

Non-maximum suppression (NMS) walks the boxes from the highest score down and drops every
box whose IoU with an already kept box is strictly greater than the threshold. Scores are
ordered with a *stable* descending sort, so of two boxes with the same score the one with
the smaller index comes first, exactly as in torchvision's CPU kernel.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "batched_nms",
    "box_area",
    "box_iou",
    "clip_boxes_to_image",
    "nms",
    "remove_small_boxes",
]

# NMS works through the sorted boxes in blocks of this many: one bit each in an int64.
_BLOCK = 62


def _check_boxes(boxes: object, name: str, *, batched: bool = False) -> Tensor:
    """Checks a (N, 4) tensor (or (..., 4) with ``batched``) of real coordinates."""
    if not isinstance(boxes, Tensor):
        raise TypeError(f"{name} must be a tensor of shape (N, 4), got {type(boxes).__name__}")
    if boxes.dtype == torch.bool or boxes.is_complex():
        raise TypeError(f"{name} must hold real coordinates, got dtype {boxes.dtype}")
    bad_rank = boxes.dim() == 0 if batched else boxes.dim() != 2
    if bad_rank or boxes.shape[-1] != 4:
        expected = "(..., 4)" if batched else "(N, 4)"
        raise ValueError(f"{name} must have shape {expected}, got {tuple(boxes.shape)}")
    return boxes


def _upcast(t: Tensor) -> Tensor:
    """Half precision and small integers are widened before products, as torchvision does."""
    if t.is_floating_point():
        return t if t.dtype in (torch.float32, torch.float64) else t.float()
    return t if t.dtype in (torch.int32, torch.int64) else t.int()


def _check_threshold(iou_threshold: object) -> float:
    if isinstance(iou_threshold, bool) or not isinstance(iou_threshold, (int, float)):
        raise TypeError(f"iou_threshold must be a real number, got {iou_threshold!r}")
    if math.isnan(iou_threshold):
        raise ValueError("iou_threshold must not be NaN")
    return float(iou_threshold)


def box_area(boxes: Tensor) -> Tensor:
    r"""Area $(x_2 - x_1)(y_2 - y_1)$ of each box.

    Args:
        boxes: boxes of shape (..., 4) as $(x_1, y_1, x_2, y_2)$.

    Returns:
        Areas of shape (...). Half precision is computed in float32 and int8/int16/uint8 in
        int32, like torchvision, so that the product cannot overflow.

    Raises:
        TypeError: if ``boxes`` is not a real tensor.
        ValueError: if its last dimension is not 4.

    Examples:
        >>> box_area(torch.tensor([[0.0, 0.0, 4.0, 2.0], [1.0, 1.0, 1.0, 5.0]]))
        tensor([8., 0.])
    """
    boxes = _upcast(_check_boxes(boxes, "boxes", batched=True))
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def _inter_union(boxes1: Tensor, boxes2: Tensor) -> tuple[Tensor, Tensor]:
    """Pairwise intersection and union areas, (N, M) each, in the arithmetic of the NMS kernel."""
    a_x1, a_y1, a_x2, a_y2 = _upcast(boxes1).T.contiguous()  # four (N,) columns
    b_x1, b_y1, b_x2, b_y2 = _upcast(boxes2).T.contiguous()  # four (M,) columns
    area1 = (a_x2 - a_x1) * (a_y2 - a_y1)
    area2 = (b_x2 - b_x1) * (b_y2 - b_y1)
    w = torch.minimum(a_x2[:, None], b_x2).sub_(torch.maximum(a_x1[:, None], b_x1)).clamp_(min=0)
    h = torch.minimum(a_y2[:, None], b_y2).sub_(torch.maximum(a_y1[:, None], b_y1)).clamp_(min=0)
    inter = w.mul_(h)  # (N, M)
    return inter, area1[:, None] + area2 - inter


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    r"""Pairwise intersection over union of two sets of boxes.

    $$
    \mathrm{IoU}_{ij} = \frac{|A_i \cap B_j|}{|A_i| + |B_j| - |A_i \cap B_j|}
    $$

    Two boxes that do not overlap have IoU 0. Two boxes of zero area have $0 / 0$, which is
    NaN here as in torchvision; NaN is never greater than a threshold, so NMS keeps both.

    Args:
        boxes1: boxes of shape (N, 4) as $(x_1, y_1, x_2, y_2)$.
        boxes2: boxes of shape (M, 4).

    Returns:
        IoU matrix of shape (N, M), floating point (integer boxes give float32).

    Raises:
        TypeError: if an argument is not a real tensor.
        ValueError: if a shape is not (N, 4).

    Examples:
        >>> a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
        >>> b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 1.0], [5.0, 5.0, 6.0, 6.0]])
        >>> box_iou(a, b)  # overlap 1 of union 7; half of a; disjoint
        tensor([[0.1429, 0.5000, 0.0000]])
    """
    _check_boxes(boxes1, "boxes1")
    _check_boxes(boxes2, "boxes2")
    inter, union = _inter_union(boxes1, boxes2)
    return inter / union


def clip_boxes_to_image(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    r"""Clamps $x$ to $[0, W]$ and $y$ to $[0, H]$, so that boxes lie inside the image.

    Args:
        boxes: boxes of shape (..., 4).
        size: image size as (H, W).

    Returns:
        Clipped boxes, a new tensor of the same shape.

    Raises:
        ValueError: if ``size`` is not two non-negative numbers.

    Examples:
        >>> clip_boxes_to_image(torch.tensor([[-5.0, 2.0, 30.0, 50.0]]), (40, 20))
        tensor([[ 0.,  2., 20., 40.]])
    """
    _check_boxes(boxes, "boxes", batched=True)
    if len(size) != 2 or any(not isinstance(s, (int, float)) or s < 0 for s in size):
        raise ValueError(f"size must be (H, W) with H, W >= 0, got {size!r}")
    height, width = size
    x = boxes[..., 0::2].clamp(min=0, max=width)
    y = boxes[..., 1::2].clamp(min=0, max=height)
    return torch.stack((x, y), dim=-1).reshape(boxes.shape)


def remove_small_boxes(boxes: Tensor, min_size: float) -> Tensor:
    """Indices of the boxes whose width and height are both at least ``min_size``.

    Args:
        boxes: boxes of shape (N, 4).
        min_size: smallest side length that is kept.

    Returns:
        int64 indices into ``boxes``, increasing.

    Examples:
        >>> remove_small_boxes(torch.tensor([[0.0, 0, 5, 5], [0, 0, 0.5, 9], [2, 2, 3, 3]]), 1.0)
        tensor([0, 2])
    """
    _check_boxes(boxes, "boxes")
    ws, hs = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return torch.where((ws >= min_size) & (hs >= min_size))[0]


def _threshold_in(dtype: torch.dtype, iou_threshold: float) -> Tensor:
    """The largest value ``f`` of ``dtype`` with ``f <= t``; then ``v > t`` iff ``v > f``.

    torchvision compares a float32 IoU with a float64 threshold. Comparing with ``f`` in
    float32 gives the same answer: no float32 lies strictly between ``f`` and ``t``.
    """
    f = torch.tensor(iou_threshold, dtype=dtype)
    if f.double() > iou_threshold:
        f = torch.nextafter(f, torch.tensor(-math.inf, dtype=dtype))
    return f


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    r"""Greedy non-maximum suppression, with the same kept indices and order as torchvision.

    Boxes are visited in descending score order (a stable sort, so ties keep index order).
    A box is kept unless its IoU with an already *kept* box is strictly greater than
    ``iou_threshold``; a box that was suppressed suppresses nothing.

    The sorted boxes are processed in blocks of 62. The IoU of a block's surviving boxes
    with each other decides, through bit masks, which of them are kept; then the IoU of
    only the kept ones with all later boxes marks those later boxes suppressed. Each pair
    is compared at most once and no (N, N) matrix is held in memory.

    Args:
        boxes: boxes of shape (N, 4) as $(x_1, y_1, x_2, y_2)$, floating point.
        scores: scores of shape (N,).
        iou_threshold: a box is dropped when its IoU with a kept box is $>$ this value.

    Returns:
        int64 indices of the kept boxes, in decreasing order of score.

    Raises:
        TypeError: if ``boxes`` is not floating point or ``iou_threshold`` is not a number.
        ValueError: if the shapes are not (N, 4) and (N,).

    Examples:
        >>> boxes = torch.tensor([[0.0, 0, 4, 4], [0, 0, 4, 2], [1, 1, 5, 5], [9, 9, 10, 10]])
        >>> scores = torch.tensor([0.9, 0.8, 0.7, 0.1])
        >>> box_iou(boxes[:1], boxes[1:])  # box 0 against boxes 1, 2, 3
        tensor([[0.5000, 0.3913, 0.0000]])
        >>> nms(boxes, scores, 0.5)  # 0.5 is not > 0.5: box 1 survives
        tensor([0, 1, 2, 3])
        >>> nms(boxes, scores, 0.3)
        tensor([0, 3])
        >>> twins = torch.tensor([[0.0, 0, 2, 2], [5, 5, 6, 6], [0, 0, 2, 2]])
        >>> nms(twins, torch.tensor([0.5, 0.9, 0.5]), 0.5)  # equal scores: index 0 goes first
        tensor([1, 0])
    """
    _check_boxes(boxes, "boxes")
    if not boxes.is_floating_point():
        raise TypeError(f"boxes must be floating point, got dtype {boxes.dtype}")
    if not isinstance(scores, Tensor) or scores.dim() != 1:
        shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(f"scores must be a tensor of shape (N,), got {shape}")
    if scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"boxes has {boxes.shape[0]} rows but scores has {scores.shape[0]}")
    threshold = _check_threshold(iou_threshold)
    n = boxes.shape[0]
    if n == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)

    order = torch.sort(scores, descending=True, stable=True).indices
    sorted_boxes = _upcast(boxes[order])
    thr = _threshold_in(sorted_boxes.dtype, threshold).to(boxes.device)
    pos = torch.arange(_BLOCK, device=boxes.device)
    bits = 1 << pos  # bit i <-> box i of a block
    later_in_block = pos[:, None] < pos[None, :]  # strict upper triangle: j comes after i
    suppressed = torch.zeros(n, dtype=torch.bool, device=boxes.device)
    kept: list[int] = []
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        block = sorted_boxes[start:stop]
        inter, union = _inter_union(block, block)
        size = stop - start
        over = (inter / union > thr) & later_in_block[:size, :size]  # i would suppress j > i
        row_masks = (over.long() * bits[:size]).sum(dim=1).tolist()
        alive = int(((~suppressed[start:stop]).long() * bits[:size]).sum())
        kept_here = []
        for i, row in enumerate(row_masks):  # the greedy pass itself: one bit test per box
            if alive >> i & 1:
                kept_here.append(start + i)
                alive &= ~row
        kept.extend(kept_here)
        if kept_here and stop < n:
            later = sorted_boxes[stop:]
            inter, union = _inter_union(sorted_boxes[kept_here], later)
            suppressed[stop:] |= (inter / union > thr).any(dim=0)
    return order[torch.tensor(kept, dtype=torch.int64, device=boxes.device)]


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    r"""NMS within each category: boxes of different categories never suppress each other.

    torchvision's coordinate trick: every box of category $c$ is shifted by
    $c \cdot (\max \text{coordinate} + 1)$ along both axes (the span of the
    coordinates, when some are negative), so boxes of different
    categories cannot overlap, and a single [`nms`][knowledge.detection.nms] does all the
    categories at once. The result equals per-category NMS merged by score as long as the
    shifted coordinates are exact in the boxes' dtype (always in float64; in float32 up to
    about $2^{24}$).

    Args:
        boxes: boxes of shape (N, 4), floating point.
        scores: scores of shape (N,).
        idxs: category of each box, integers of shape (N,).
        iou_threshold: IoU above which a box is suppressed by a kept box of its category.

    Returns:
        int64 indices of the kept boxes, in decreasing order of score.

    Raises:
        TypeError: if ``idxs`` is not an integer tensor.
        ValueError: if the shapes do not match.

    Examples:
        >>> boxes = torch.tensor([[0.0, 0, 4, 4], [0, 0, 4, 4], [0, 0, 4, 4]])
        >>> scores = torch.tensor([0.9, 0.8, 0.7])
        >>> batched_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.5)  # box 2 loses to box 0
        tensor([0, 1])
    """
    _check_boxes(boxes, "boxes")
    if not isinstance(idxs, Tensor) or idxs.is_floating_point() or idxs.dtype == torch.bool:
        got = idxs.dtype if isinstance(idxs, Tensor) else type(idxs).__name__
        raise TypeError(f"idxs must be an integer tensor of categories, got {got}")
    if idxs.shape != (boxes.shape[0],):
        raise ValueError(f"idxs must have shape ({boxes.shape[0]},), got {tuple(idxs.shape)}")
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    # torchvision uses max + 1; subtracting a negative minimum keeps the categories apart
    # for boxes that reach left of or above the image, and changes nothing otherwise.
    span = boxes.max() - boxes.min().clamp(max=0) + 1
    offsets = idxs.to(boxes) * span
    return nms(boxes + offsets[:, None], scores, iou_threshold)
