r"""Box coding (anchor + deltas -> box) and anchor generation, with torchvision's semantics.

A detector does not regress box corners directly. It predicts four numbers
$(t_x, t_y, t_w, t_h)$ relative to a reference box, the *anchor* (or, in the second stage,
the proposal) with centre $(x_a, y_a)$, width $w_a$ and height $h_a$:

$$
t_x = w_x \frac{x - x_a}{w_a}, \quad t_y = w_y \frac{y - y_a}{h_a}, \quad
t_w = w_w \log \frac{w}{w_a}, \quad t_h = w_h \log \frac{h}{h_a}.
$$

The weights $(w_x, w_y, w_w, w_h)$ are (1, 1, 1, 1) in the RPN and (10, 10, 5, 5) in the
Fast R-CNN head of torchvision and Detectron.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from knowledge.detection.boxes import _check_boxes

__all__ = ["AnchorGenerator", "BoxCoder"]


def _check_positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


class BoxCoder:
    r"""Encodes boxes as deltas to reference boxes and decodes deltas back to boxes.

    Decoding inverts the encoding; $t_w$ and $t_h$ are first clamped from above at
    ``bbox_xform_clip`` (default $\log(1000/16) \approx 4.135$), so one wild prediction
    cannot make $e^{t_w}$ overflow: a decoded box is at most $1000/16 = 62.5$ times wider
    or taller than its reference.

    Args:
        weights: $(w_x, w_y, w_w, w_h)$ that scale the deltas; (1, 1, 1, 1) for the RPN and
            (10, 10, 5, 5) for the box head.
        bbox_xform_clip: upper bound for $t_w / w_w$ and $t_h / w_h$ when decoding.

    Raises:
        ValueError: if ``weights`` is not four positive numbers or the clip is not > 0.

    Examples:
        >>> coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
        >>> anchors = torch.tensor([[0.0, 0.0, 10.0, 20.0]])  # centre (5, 10), 10 x 20
        >>> box = torch.tensor([[1.0, 2.0, 11.0, 22.0]])  # moved by (1, 2), same size
        >>> deltas = coder.encode(box, anchors)
        >>> deltas  # t_x = 10 * 1 / 10, t_y = 10 * 2 / 20, no log-size change
        tensor([[1., 1., 0., 0.]])
        >>> coder.decode(deltas, anchors)
        tensor([[ 1.,  2., 11., 22.]])
    """

    def __init__(
        self,
        weights: Sequence[float],
        *,
        bbox_xform_clip: float = math.log(1000.0 / 16),
    ) -> None:
        if not isinstance(weights, Sequence) or len(weights) != 4:
            raise ValueError(f"weights must be four numbers (wx, wy, ww, wh), got {weights!r}")
        self.weights = tuple(_check_positive("weights[i]", w) for w in weights)
        self.bbox_xform_clip = _check_positive("bbox_xform_clip", bbox_xform_clip)

    def __repr__(self) -> str:
        return f"BoxCoder(weights={self.weights}, bbox_xform_clip={self.bbox_xform_clip:.4f})"

    def encode(self, boxes: Tensor, anchors: Tensor) -> Tensor:
        r"""Deltas $(t_x, t_y, t_w, t_h)$ that move each anchor onto its box.

        Args:
            boxes: target boxes of shape (N, 4), for example the ground truth matched to
                each anchor.
            anchors: reference boxes of shape (N, 4), with positive width and height.

        Returns:
            Deltas of shape (N, 4), in the dtype of ``boxes``.

        Raises:
            ValueError: if the shapes differ or are not (N, 4).
        """
        _check_boxes(boxes, "boxes")
        _check_boxes(anchors, "anchors")
        if boxes.shape != anchors.shape:
            raise ValueError(
                f"boxes {tuple(boxes.shape)} and anchors {tuple(anchors.shape)} must match"
            )
        wx, wy, ww, wh = torch.tensor(self.weights, dtype=boxes.dtype, device=boxes.device)
        anchors = anchors.to(boxes.dtype)
        ex_w = anchors[:, 2] - anchors[:, 0]
        ex_h = anchors[:, 3] - anchors[:, 1]
        ex_x = anchors[:, 0] + 0.5 * ex_w  # anchor centre
        ex_y = anchors[:, 1] + 0.5 * ex_h
        gt_w = boxes[:, 2] - boxes[:, 0]
        gt_h = boxes[:, 3] - boxes[:, 1]
        gt_x = boxes[:, 0] + 0.5 * gt_w
        gt_y = boxes[:, 1] + 0.5 * gt_h
        dx = wx * (gt_x - ex_x) / ex_w
        dy = wy * (gt_y - ex_y) / ex_h
        dw = ww * torch.log(gt_w / ex_w)
        dh = wh * torch.log(gt_h / ex_h)
        return torch.stack((dx, dy, dw, dh), dim=1)

    def decode(self, deltas: Tensor, anchors: Tensor) -> Tensor:
        r"""Boxes from deltas: the inverse of [`encode`][knowledge.detection.BoxCoder.encode].

        $$
        x = x_a + \frac{t_x}{w_x} w_a, \quad
        w = w_a \exp\left(\min\left(\frac{t_w}{w_w}, c\right)\right)
        $$

        and the same for $y$ and $h$, with $c$ = ``bbox_xform_clip``.

        Args:
            deltas: shape (N, 4) or (N, 4 * K): K sets of deltas per anchor, such as one per
                class in the box head.
            anchors: reference boxes of shape (N, 4).

        Returns:
            Boxes $(x_1, y_1, x_2, y_2)$ with the shape and dtype of ``deltas``.

        Raises:
            ValueError: if the shapes do not fit together.
        """
        if not isinstance(deltas, Tensor) or deltas.dim() != 2 or deltas.shape[1] % 4:
            shape = tuple(deltas.shape) if isinstance(deltas, Tensor) else type(deltas).__name__
            raise ValueError(f"deltas must have shape (N, 4 * K), got {shape}")
        _check_boxes(anchors, "anchors")
        if anchors.shape[0] != deltas.shape[0]:
            raise ValueError(f"{deltas.shape[0]} rows of deltas but {anchors.shape[0]} anchors")
        anchors = anchors.to(deltas.dtype)
        widths = anchors[:, 2:3] - anchors[:, 0:1]  # (N, 1), broadcast over the K sets
        heights = anchors[:, 3:4] - anchors[:, 1:2]
        ctr_x = anchors[:, 0:1] + 0.5 * widths
        ctr_y = anchors[:, 1:2] + 0.5 * heights
        wx, wy, ww, wh = self.weights
        dx = deltas[:, 0::4] / wx  # (N, K)
        dy = deltas[:, 1::4] / wy
        dw = (deltas[:, 2::4] / ww).clamp(max=self.bbox_xform_clip)
        dh = (deltas[:, 3::4] / wh).clamp(max=self.bbox_xform_clip)
        pred_x = dx * widths + ctr_x
        pred_y = dy * heights + ctr_y
        half_w = 0.5 * (torch.exp(dw) * widths)
        half_h = 0.5 * (torch.exp(dh) * heights)
        boxes = torch.stack((pred_x - half_w, pred_y - half_h, pred_x + half_w, pred_y + half_h))
        return boxes.permute(1, 2, 0).reshape(deltas.shape)  # (4, N, K) -> (N, K, 4) -> (N, 4K)


def _nested(name: str, value: object) -> tuple[tuple[float, ...], ...]:
    """((a, b, ...), ...) with one inner tuple of positive numbers per feature map."""
    if not isinstance(value, Sequence) or not value:
        raise TypeError(f"{name} must be a non-empty tuple of tuples, got {value!r}")
    if not all(isinstance(v, Sequence) and v for v in value):
        raise TypeError(
            f"{name} must hold one non-empty tuple per feature map, such as ((32, 64, 128),), "
            f"got {value!r}"
        )
    return tuple(tuple(_check_positive(f"{name} entry", x) for x in v) for v in value)


class AnchorGenerator(nn.Module):
    r"""Anchors for every location of every feature map, as torchvision generates them.

    Each feature map $i$ gets ``len(sizes[i]) * len(aspect_ratios[i])`` *cell anchors*,
    centred on 0: for aspect ratio $r = h / w$ and size $s$, the anchor has
    $w = s / \sqrt{r}$ and $h = s \sqrt{r}$ (area $s^2$), and its corners
    $(\pm w / 2, \pm h / 2)$ are rounded to integers. The cell anchors are then shifted to
    every location of the feature map: location $(i, j)$ of a map with stride
    $(S_y, S_x)$ adds $(j S_x, i S_y)$, where the stride is ``image size // map size``.
    Anchors are ordered location by location (row-major), and within a location ratio by
    ratio, size by size, which is the order of the RPN head's outputs after
    ``permute(0, 2, 3, 1)``.

    Args:
        sizes: per feature map, the anchor sizes (square roots of the areas) in pixels.
        aspect_ratios: per feature map, the ratios $h / w$.

    Raises:
        TypeError: if the arguments are not tuples of tuples.
        ValueError: if their lengths differ or a value is not a positive number.

    Examples:
        >>> gen = AnchorGenerator(sizes=((32,),), aspect_ratios=((0.5, 1.0, 2.0),))
        >>> gen.cell_anchors[0]  # w = 32 / sqrt(r), h = 32 * sqrt(r), rounded half-widths
        tensor([[-23., -11.,  23.,  11.],
                [-16., -16.,  16.,  16.],
                [-11., -23.,  11.,  23.]])
        >>> images = torch.zeros(1, 3, 64, 64)
        >>> anchors = gen(images, [torch.zeros(1, 8, 4, 4)])  # stride 64 // 4 = 16
        >>> anchors[0].shape  # 4 * 4 locations * 3 anchors
        torch.Size([48, 4])
        >>> anchors[0][3]  # location (0, 1): shifted by 16 in x
        tensor([ -7., -11.,  39.,  11.])
    """

    def __init__(
        self,
        sizes: Sequence[Sequence[float]] = ((128, 256, 512),),
        aspect_ratios: Sequence[Sequence[float]] = ((0.5, 1.0, 2.0),),
    ) -> None:
        super().__init__()
        self.sizes = _nested("sizes", sizes)
        self.aspect_ratios = _nested("aspect_ratios", aspect_ratios)
        if len(self.sizes) != len(self.aspect_ratios):
            raise ValueError(
                f"sizes has {len(self.sizes)} feature maps but aspect_ratios has "
                f"{len(self.aspect_ratios)}; give one tuple of each per feature map"
            )
        self.cell_anchors = [
            self.generate_anchors(s, r) for s, r in zip(self.sizes, self.aspect_ratios, strict=True)
        ]

    @staticmethod
    def generate_anchors(
        scales: Sequence[float], aspect_ratios: Sequence[float], dtype: torch.dtype = torch.float32
    ) -> Tensor:
        r"""Zero-centred anchors, shape (len(aspect_ratios) * len(scales), 4), rounded.

        Args:
            scales: anchor sizes $s$ (square roots of the areas).
            aspect_ratios: ratios $r = h / w$.
            dtype: dtype in which the corners are computed before rounding.

        Returns:
            Rows $(-w/2, -h/2, w/2, h/2)$, ratio-major then size.
        """
        scales_t = torch.as_tensor(scales, dtype=dtype)
        h_ratios = torch.sqrt(torch.as_tensor(aspect_ratios, dtype=dtype))
        w_ratios = 1 / h_ratios
        ws = (w_ratios[:, None] * scales_t[None, :]).reshape(-1)  # (R * S,) ratio-major
        hs = (h_ratios[:, None] * scales_t[None, :]).reshape(-1)
        return (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()

    def num_anchors_per_location(self) -> list[int]:
        """Number of anchors at each location, one entry per feature map."""
        return [len(s) * len(r) for s, r in zip(self.sizes, self.aspect_ratios, strict=True)]

    def grid_anchors(
        self,
        grid_sizes: Sequence[tuple[int, int]],
        strides: Sequence[tuple[int, int]],
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> list[Tensor]:
        """Cell anchors shifted to every location; one (H_i * W_i * A_i, 4) tensor per map.

        Args:
            grid_sizes: (H_i, W_i) of each feature map.
            strides: (S_y, S_x) of each feature map, in image pixels.
            dtype: dtype of the anchors.
            device: device of the anchors.
        """
        out = []
        for (gh, gw), (sy, sx), cell in zip(grid_sizes, strides, self.cell_anchors, strict=True):
            shift_x = torch.arange(gw, device=device).to(dtype) * sx
            shift_y = torch.arange(gh, device=device).to(dtype) * sy
            yy, xx = torch.meshgrid(shift_y, shift_x, indexing="ij")
            shifts = torch.stack((xx, yy, xx, yy), dim=-1).reshape(-1, 1, 4)  # (HW, 1, 4)
            cell = cell.to(dtype=dtype, device=device)
            out.append((shifts + cell.reshape(1, -1, 4)).reshape(-1, 4))  # (HW * A, 4)
        return out

    def forward(self, images: Tensor, feature_maps: Sequence[Tensor]) -> list[Tensor]:
        """Anchors for each image of the batch, all feature maps concatenated.

        Args:
            images: the (padded) batch of shape (B, C, H, W); only B, H and W are used.
            feature_maps: one map of shape (B, C_i, H_i, W_i) per entry of ``sizes``.

        Returns:
            B tensors of shape (sum_i H_i * W_i * A_i, 4), in the dtype of the feature maps.

        Raises:
            ValueError: if the number of feature maps does not match ``sizes``.
        """
        if not isinstance(images, Tensor) or images.dim() != 4:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"images must have shape (B, C, H, W), got {shape}")
        if len(feature_maps) != len(self.cell_anchors):
            raise ValueError(
                f"got {len(feature_maps)} feature maps but sizes/aspect_ratios describe "
                f"{len(self.cell_anchors)}"
            )
        height, width = images.shape[-2:]
        grid_sizes = [tuple(f.shape[-2:]) for f in feature_maps]
        strides = [(height // gh, width // gw) for gh, gw in grid_sizes]
        ref = feature_maps[0]
        per_map = self.grid_anchors(grid_sizes, strides, dtype=ref.dtype, device=ref.device)
        anchors = torch.cat(per_map)
        return [anchors.clone() for _ in range(images.shape[0])]
