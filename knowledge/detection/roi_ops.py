r"""RoI Align and RoI Pooling: fixed-size features for boxes of any size, as in torchvision.

Both ops cut a box out of a feature map of stride $S$ (``spatial_scale`` $= 1/S$) and
divide it into an ``output_size`` grid of bins.

* **RoI Pooling** (Fast R-CNN) rounds the box to whole feature cells,
  $\operatorname{round}(x_1 / S)$, and splits it into bins with floor/ceil boundaries, then takes
  the maximum of each bin. The first rounding moves each edge by up to half a cell (8 pixels
  at stride 16); the second makes neighbouring bins differ in size or share cells.
* **RoI Align** (Mask R-CNN) never rounds. Each bin is sampled on a regular grid of points
  at real-valued positions; each point is read with bilinear interpolation of its four
  neighbouring cells, and the bin's output is the mean of its points. With
  ``aligned=True`` the box is shifted by half a cell first, so that a cell's value sits at
  its centre (Detectron2's convention).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["roi_align", "roi_pool"]

# Largest number of gathered values held at once; RoIs are processed in chunks below it.
_CHUNK_ELEMENTS = 1 << 24
_FLT_MAX = 3.4028234663852886e38  # the C++ kernel starts each bin's maximum at -FLT_MAX


def _check_input(input: object) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a tensor of shape (N, C, H, W), got {type(input).__name__}")
    if input.dim() != 4:
        raise ValueError(f"input must have shape (N, C, H, W), got {tuple(input.shape)}")
    if not input.is_floating_point():
        raise TypeError(f"input must be floating point, got dtype {input.dtype}")
    return input


def _pair(output_size: object) -> tuple[int, int]:
    size = (output_size, output_size) if isinstance(output_size, int) else output_size
    if (
        not isinstance(size, Sequence)
        or len(size) != 2
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in size)
    ):
        raise ValueError(f"output_size must be an int >= 1 or (h, w) of such, got {output_size!r}")
    return int(size[0]), int(size[1])


def _as_rois(boxes: object, input: Tensor) -> Tensor:
    """Boxes as (K, 5) rows (batch index, x1, y1, x2, y2) in the input's dtype, checked."""
    if isinstance(boxes, (list, tuple)):
        for i, b in enumerate(boxes):
            if not isinstance(b, Tensor) or b.dim() != 2 or b.shape[1] != 4:
                got = tuple(b.shape) if isinstance(b, Tensor) else type(b).__name__
                raise ValueError(f"boxes[{i}] must be a tensor of shape (L, 4), got {got}")
        if len(boxes) > input.shape[0]:
            raise ValueError(f"got boxes for {len(boxes)} images but input has {input.shape[0]}")
        rois = [
            torch.cat([torch.full_like(b[:, :1], i, dtype=input.dtype), b.to(input.dtype)], dim=1)
            for i, b in enumerate(boxes)
        ]
        rois_t = torch.cat(rois) if rois else input.new_zeros(0, 5)
    elif isinstance(boxes, Tensor):
        if boxes.dim() != 2 or boxes.shape[1] != 5:
            raise ValueError(
                f"boxes must be a tensor of shape (K, 5) with the batch index first, or a list "
                f"of (L, 4) tensors, got shape {tuple(boxes.shape)}"
            )
        rois_t = boxes.to(input.dtype)
        batch = rois_t[:, 0]
        if ((batch < 0) | (batch >= input.shape[0]) | (batch != batch.floor())).any():
            raise ValueError(
                f"boxes[:, 0] must be batch indices in [0, {input.shape[0]}), got "
                f"{batch.unique().tolist()[:10]}"
            )
    else:
        raise TypeError(
            f"boxes must be a (K, 5) tensor or a list of (L, 4) tensors, got {type(boxes).__name__}"
        )
    if not torch.isfinite(rois_t).all():
        raise ValueError("boxes must have finite coordinates")
    return rois_t.to(input.device)


def _check_scale(spatial_scale: object) -> float:
    if isinstance(spatial_scale, bool) or not isinstance(spatial_scale, (int, float)):
        raise TypeError(f"spatial_scale must be a real number, got {spatial_scale!r}")
    if not math.isfinite(spatial_scale) or spatial_scale <= 0:
        raise ValueError(f"spatial_scale must be a finite number > 0, got {spatial_scale!r}")
    return float(spatial_scale)


def _axis_samples(start: Tensor, bin_size: Tensor, bins: int, grid: int) -> Tensor:
    """Sample positions along one axis, shape (k, bins, grid).

    Point i of bin b sits at ``start + b * bin + (i + .5) * bin / grid``, evaluated in this
    order as in the C++ kernel.
    """
    b = torch.arange(bins, device=start.device).to(start.dtype)
    i = torch.arange(grid, device=start.device).to(start.dtype) + 0.5
    return (
        start[:, None, None]
        + b[None, :, None] * bin_size[:, None, None]
        + i[None, None, :] * bin_size[:, None, None] / grid
    )


def _axis_weights(coord: Tensor, size: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Bilinear neighbours and weights along one axis, with the kernel's border rules.

    A sample further than one cell outside the map ($c < -1$ or $c > $ size) contributes
    nothing; one between -1 and 0 reads cell 0; one at or past the last cell reads the last
    cell with full weight. Returns (low index, high index, weight low, weight high).
    """
    inside = ((coord >= -1) & (coord <= size)).to(coord.dtype)
    c = coord.clamp(min=0)
    low = c.floor().long()
    at_end = low >= size - 1
    low = low.clamp(max=size - 1)
    high = torch.where(at_end, low, low + 1)
    c = torch.where(at_end, low.to(c.dtype), c)
    frac = c - low
    return low, high, (1 - frac) * inside, frac * inside


def roi_align(
    input: Tensor,
    boxes: Tensor | Sequence[Tensor],
    output_size: int | tuple[int, int],
    *,
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> Tensor:
    r"""RoI Align (Mask R-CNN): average of bilinear samples in each bin, no rounding anywhere.

    For a box $(x_1, y_1, x_2, y_2)$ in image pixels, with $o = 0.5$ if ``aligned`` else 0,
    the box on the feature map starts at $x_1 s - o$ and is $w = (x_2 - x_1) s$ wide
    (at least 1 when not ``aligned``). Bin $j$ of $P_w$ holds $g$ sample points,
    point $i$ at

    $$
    x_{j,i} = x_1 s - o + \left(j + \frac{i + 1/2}{g}\right) \frac{w}{P_w},
    $$

    with $g$ = ``sampling_ratio`` if it is positive, otherwise $\lceil w / P_w \rceil$ per
    box; the same holds for $y$. Each point is bilinearly interpolated and a bin's value is
    the mean over its $g_y g_x$ points. Everything is computed with tensor operations: one
    gather of the four neighbours of all points, for all boxes that share a grid size.

    Args:
        input: feature map of shape (N, C, H, W).
        boxes: a (K, 5) tensor of rows (batch index, x1, y1, x2, y2), or a list with one
            (L_n, 4) tensor of boxes per image.
        output_size: bins per box, an int or (P_h, P_w).
        spatial_scale: $s$, feature cells per image pixel, e.g. 1/16 for stride 16.
        sampling_ratio: sample points per bin along each axis; <= 0 means adaptive.
        aligned: shift the box by half a cell (Detectron2); False is the original op.

    Returns:
        Pooled features of shape (K, C, P_h, P_w), in the order of the boxes.

    Raises:
        TypeError: for an input that is not a floating-point tensor.
        ValueError: for bad shapes, batch indices outside [0, N), non-finite boxes or a
            spatial_scale that is not > 0.

    Examples:
        >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)  # value = 4 * row + column
        >>> box = torch.tensor([[0.0, 0.5, 0.5, 2.5, 2.5]])  # cell centres 0.5 ... 2.5
        >>> roi_align(x, box, 1, sampling_ratio=1, aligned=True)  # one point at (1, 1)
        tensor([[[[5.]]]])
        >>> roi_align(x, box, 2, sampling_ratio=1, aligned=True)[0, 0]  # points 0.5 and 1.5
        tensor([[2.5000, 3.5000],
                [6.5000, 7.5000]])
    """
    input = _check_input(input)
    ph, pw = _pair(output_size)
    scale = _check_scale(spatial_scale)
    if isinstance(sampling_ratio, bool) or not isinstance(sampling_ratio, int):
        raise TypeError(f"sampling_ratio must be an int, got {sampling_ratio!r}")
    rois = _as_rois(boxes, input)
    n, c, height, width = input.shape
    k = rois.shape[0]
    out = input.new_zeros(k, ph, pw, c)
    if out.numel() == 0 or height == 0 or width == 0:
        return out.permute(0, 3, 1, 2).contiguous()

    offset = 0.5 if aligned else 0.0
    start_x = rois[:, 1] * scale - offset
    start_y = rois[:, 2] * scale - offset
    roi_w = rois[:, 3] * scale - offset - start_x
    roi_h = rois[:, 4] * scale - offset - start_y
    if not aligned:  # the original op forces malformed boxes to be at least 1 x 1
        roi_w, roi_h = roi_w.clamp(min=1.0), roi_h.clamp(min=1.0)
    bin_w, bin_h = roi_w / pw, roi_h / ph
    if sampling_ratio > 0:
        grid = torch.full((k, 2), sampling_ratio, dtype=torch.int64, device=rois.device)
    else:
        grid = torch.stack([torch.ceil(roi_h / ph), torch.ceil(roi_w / pw)], dim=1).long()

    feats = input.permute(0, 2, 3, 1).reshape(n * height * width, c)  # one row per cell
    groups, which = torch.unique(grid, dim=0, return_inverse=True)
    for g, (gy, gx) in enumerate(groups.tolist()):
        if gy <= 0 or gx <= 0:  # an empty box with aligned=True: no samples, output 0
            continue
        members = torch.nonzero(which == g).flatten()
        per_roi = ph * gy * pw * gx * c
        for chunk in members.split(max(1, _CHUNK_ELEMENTS // per_roi)):
            ys = _axis_samples(start_y[chunk], bin_h[chunk], ph, gy)  # (k, P_h, g_y)
            xs = _axis_samples(start_x[chunk], bin_w[chunk], pw, gx)  # (k, P_w, g_x)
            y_lo, y_hi, wy_lo, wy_hi = _axis_weights(ys, height)
            x_lo, x_hi, wx_lo, wx_hi = _axis_weights(xs, width)
            base = rois[chunk, 0].long() * (height * width)  # first cell of each box's image
            acc = input.new_zeros(len(chunk), ph, pw, c)
            for yi, wy in ((y_lo, wy_lo), (y_hi, wy_hi)):
                row = (base[:, None, None] + yi * width)[:, :, :, None, None]  # (k,Ph,gy,1,1)
                for xi, wx in ((x_lo, wx_lo), (x_hi, wx_hi)):
                    idx = row + xi[:, None, None, :, :]  # (k, P_h, g_y, P_w, g_x)
                    w = wy[:, :, :, None, None] * wx[:, None, None, :, :]
                    vals = feats[idx.reshape(-1)].reshape(*idx.shape, c)  # (..., C)
                    acc += torch.einsum("kaibj,kaibjc->kabc", w, vals)
            out[chunk] = acc / (gy * gx)
    return out.permute(0, 3, 1, 2).contiguous()  # (K, P_h, P_w, C) -> (K, C, P_h, P_w)


def _round_half_away(x: Tensor) -> Tensor:
    """C's ``round``: halves go away from zero (``torch.round`` rounds them to even)."""
    a = x.abs()
    f = a.floor()
    return (f + (a - f >= 0.5).to(x.dtype)).copysign(x)


def roi_pool(
    input: Tensor,
    boxes: Tensor | Sequence[Tensor],
    output_size: int | tuple[int, int],
    *,
    spatial_scale: float = 1.0,
) -> Tensor:
    r"""RoI Pooling (Fast R-CNN): max over bins of a box snapped to whole cells.

    The box is quantized twice. First its corners are rounded to cells,
    $x_{\text{start}} = \operatorname{round}(x_1 s)$ (halves away from zero, as C's
    ``round``), and its width is $W = \max(\operatorname{round}(x_2 s) -
    x_{\text{start}} + 1, 1)$ cells, both ends included. Then bin $j$ of $P_w$ spans

    $$
    \left[\left\lfloor j \frac{W}{P_w} \right\rfloor,
    \left\lceil (j + 1) \frac{W}{P_w} \right\rceil\right)
    $$

    cells after the start, clipped to the map; the same for $y$. A bin's output is the
    maximum over its cells, and 0 for a bin that is empty after clipping. The bin bounds
    are computed for all boxes at once; the maxima are taken box by box.

    Args:
        input: feature map of shape (N, C, H, W).
        boxes: a (K, 5) tensor of rows (batch index, x1, y1, x2, y2), or a list with one
            (L_n, 4) tensor of boxes per image.
        output_size: bins per box, an int or (P_h, P_w).
        spatial_scale: $s$, feature cells per image pixel.

    Returns:
        Pooled features of shape (K, C, P_h, P_w).

    Raises:
        TypeError: for an input that is not a floating-point tensor.
        ValueError: for bad shapes, batch indices or scale.

    Examples:
        >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
        >>> box = torch.tensor([[0.0, 0.0, 0.0, 2.4, 2.6]])  # rounds to columns 0-2, rows 0-3
        >>> roi_pool(x, box, 2)[0, 0]  # bins: rows [0, 2) [2, 4), columns [0, 2) [1, 3)
        tensor([[ 5.,  6.],
                [13., 14.]])
    """
    input = _check_input(input)
    ph, pw = _pair(output_size)
    scale = _check_scale(spatial_scale)
    rois = _as_rois(boxes, input)
    _, c, height, width = input.shape
    k = rois.shape[0]
    out = input.new_zeros(k, c, ph, pw)
    if out.numel() == 0:
        return out

    corners = _round_half_away(rois[:, 1:] * scale).long()  # (K, 4) cells x1, y1, x2, y2
    start_x, start_y = corners[:, 0], corners[:, 1]
    roi_w = (corners[:, 2] - start_x + 1).clamp(min=1).to(input.dtype)
    roi_h = (corners[:, 3] - start_y + 1).clamp(min=1).to(input.dtype)

    def bounds(start: Tensor, length: Tensor, bins: int, size: int) -> tuple[Tensor, Tensor]:
        j = torch.arange(bins, device=input.device).to(input.dtype)
        bin_size = (length / bins)[:, None]  # (K, 1), in the input's dtype as in the kernel
        lo = torch.floor(j * bin_size).long() + start[:, None]
        hi = torch.ceil((j + 1) * bin_size).long() + start[:, None]
        return lo.clamp(0, size), hi.clamp(0, size)  # (K, bins) each

    y0, y1 = bounds(start_y, roi_h, ph, height)
    x0, x1 = bounds(start_x, roi_w, pw, width)
    empty = (y1[:, :, None] <= y0[:, :, None]) | (x1[:, None, :] <= x0[:, None, :])  # (K,Ph,Pw)
    batch = rois[:, 0].long().tolist()
    spans = torch.stack([y0.min(1).values, y1.max(1).values, x0.min(1).values, x1.max(1).values])
    for r, (top, bottom, left, right) in enumerate(spans.T.tolist()):
        if bottom <= top or right <= left:
            continue  # every bin is empty
        crop = input[batch[r], :, top:bottom, left:right]  # (C, h, w)
        crop = crop.masked_fill(crop.isnan(), -math.inf)  # as in C, NaN never wins `v > max`
        rows = torch.arange(top, bottom, device=input.device)
        cols = torch.arange(left, right, device=input.device)
        in_row = (rows >= y0[r, :, None]) & (rows < y1[r, :, None])  # (P_h, h)
        in_col = (cols >= x0[r, :, None]) & (cols < x1[r, :, None])  # (P_w, w)
        per_col = torch.where(in_col, crop[:, :, None, :], -math.inf).amax(dim=-1)  # (C, h, P_w)
        pooled = torch.where(in_row[:, :, None], per_col[:, None], -math.inf).amax(dim=2)
        out[r] = pooled.clamp(min=-_FLT_MAX)  # (C, P_h, P_w)
    return out.masked_fill(empty[:, None], 0.0)
