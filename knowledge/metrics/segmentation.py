r"""Confusion-matrix metrics for semantic segmentation, with the mmseg definitions.

Everything is derived from one confusion matrix $C$ of shape (K, K), where $C_{ij}$ counts
the pixels whose ground truth is class $i$ and whose prediction is class $j$. For class $c$,
$TP_c = C_{cc}$, $FN_c = \sum_j C_{cj} - TP_c$ (row) and $FP_c = \sum_i C_{ic} - TP_c$ (column).
The matrix is accumulated over the whole dataset before any division, as mmseg's
``IoUMetric`` does: per-image scores are never averaged.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "SegmentationMetric",
    "accuracy_per_class",
    "confusion_matrix",
    "iou_per_class",
    "mean_iou",
    "mean_pixel_accuracy",
    "pixel_accuracy",
]

# Above this many histogram bins, out-of-range labels are found with masks instead.
_MAX_BINS = 1 << 24


def _check_num_classes(num_classes: int) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise TypeError(f"num_classes must be an int, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    return num_classes


def _check_ignore_index(ignore_index: int | None) -> None:
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, int)
    ):
        raise TypeError(f"ignore_index must be an int or None, got {ignore_index!r}")


def _format_values(values: Tensor, limit: int = 10) -> str:
    found = torch.unique(values).tolist()
    shown = ", ".join(str(v) for v in found[:limit])
    return f"[{shown}{', ...' if len(found) > limit else ''}]"


def _as_label_maps(pred: Tensor, target: Tensor, num_classes: int) -> tuple[Tensor, Tensor, bool]:
    """Checks types and shapes; returns (pred labels, target, pred_known_in_range)."""
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError(
            f"pred and target must be tensors, got {type(pred).__name__} and "
            f"{type(target).__name__}"
        )
    if target.dtype == torch.bool or target.is_floating_point() or target.is_complex():
        raise TypeError(f"target must be an integer label map, got dtype {target.dtype}")
    if pred.device != target.device:
        raise ValueError(f"pred is on {pred.device} but target is on {target.device}")
    if pred.dtype == torch.bool or pred.is_complex():
        raise TypeError(f"pred must be integer labels or floating logits, got dtype {pred.dtype}")
    if not pred.is_floating_point():
        if pred.shape != target.shape:
            raise ValueError(
                f"pred shape {tuple(pred.shape)} does not match target shape {tuple(target.shape)}"
            )
        return pred, target, False
    if pred.dim() != target.dim() + 1 or target.dim() == 0:
        raise TypeError(
            f"pred has floating dtype {pred.dtype} but shape {tuple(pred.shape)} is not logits "
            f"(N, K, ...) for target shape {tuple(target.shape)}; pass integer labels instead"
        )
    if pred.shape[0] != target.shape[0] or pred.shape[2:] != target.shape[1:]:
        raise ValueError(
            f"logits shape {tuple(pred.shape)} does not match target shape "
            f"{tuple(target.shape)}: expected (N, K, ...) for target (N, ...)"
        )
    if pred.shape[1] != num_classes:
        raise ValueError(
            f"logits have {pred.shape[1]} classes in dim 1 but num_classes={num_classes}"
        )
    return pred.argmax(dim=1), target, True


def _batch_confusion_matrix(
    pred: Tensor, target: Tensor, num_classes: int, ignore_index: int | None
) -> Tensor:
    """One validated batch -> (K, K) int64 matrix, from a single ``torch.bincount``."""
    k = num_classes
    pred, target, pred_ok = _as_label_maps(pred, target, k)
    if target.numel() == 0:
        return torch.zeros(k, k, dtype=torch.int64, device=target.device)
    small_target = target.dtype in (torch.uint8, torch.int8)  # its dtype bounds its range
    if torch.promote_types(pred.dtype, target.dtype) != torch.int64:  # uint8 * K overflows
        target = target.long()
    if not pred_ok:
        p_lo, p_hi = (int(v) for v in torch.aminmax(pred))
        if p_lo < 0 or p_hi >= k:  # rare path: allowed only where the target is ignored
            outside = (pred < 0) | (pred >= k)
            kept = outside if ignore_index is None else outside & (target != ignore_index)
            bad = pred[kept]
            if bad.numel():
                raise ValueError(f"pred has labels outside [0, {k}): {_format_values(bad)}")
            pred = pred.masked_fill(outside, 0)
    if small_target:  # a 256-row histogram checks the labels for free
        t_lo, t_hi = (-128, 127) if target.dtype == torch.int8 else (0, 255)
    else:
        t_lo, t_hi = (int(v) for v in torch.aminmax(target))
    lo, hi = min(t_lo, 0), max(t_hi, k - 1)
    rows_checked = lo == 0 and hi == k - 1
    not_ignored = "" if ignore_index is None else f" that are not ignore_index={ignore_index}"
    if (hi - lo + 1) * k > _MAX_BINS:  # labels too far apart for one histogram row per value
        outside = (target < 0) | (target >= k)
        kept = outside if ignore_index is None else outside & (target != ignore_index)
        bad = target[kept]
        if bad.numel():
            raise ValueError(
                f"target has labels outside [0, {k}){not_ignored}: {_format_values(bad)}"
            )
        target = target.masked_fill(outside, k)  # one extra row, dropped below
        lo, hi, rows_checked = 0, k, True
    # Row r of the histogram holds the pixels whose target is lo + r.
    idx = torch.add(pred, target, alpha=k)
    if lo != 0:
        idx.sub_(lo * k)
    rows = torch.bincount(idx.reshape(-1), minlength=(hi - lo + 1) * k).view(-1, k)
    if not rows_checked:
        labels = torch.cat([torch.arange(lo, 0), torch.arange(k, hi + 1)])
        present = torch.cat([rows[:-lo], rows[k - lo :]]).sum(dim=1).cpu() > 0
        bad_labels = [v for v in labels[present].tolist() if v != ignore_index]
        if bad_labels:
            raise ValueError(
                f"target has labels outside [0, {k}){not_ignored}: "
                f"{_format_values(torch.tensor(bad_labels))}"
            )
    cm = rows[-lo : k - lo] if rows.shape[0] == k else rows[-lo : k - lo].clone()
    if ignore_index is not None and 0 <= ignore_index < k:
        cm[ignore_index] = 0  # that row holds exactly the ignored pixels
    return cm


def confusion_matrix(
    pred: Tensor, target: Tensor, num_classes: int, ignore_index: int | None = 255
) -> Tensor:
    r"""Counts (ground truth, prediction) pairs over all non-ignored pixels.

    Entry $C_{ij}$ is the number of pixels with ground truth $i$ predicted as $j$. It is
    computed with one ``torch.bincount`` over $i \cdot K + j$, without any Python loop.

    Unlike mmseg, which silently drops labels outside $[0, K)$, this raises: a stray label
    usually means a wrong ``num_classes`` or an unmapped dataset value.

    Args:
        pred: label map of the same shape as ``target`` (any integer dtype, bool rejected),
            or floating logits of shape (N, K, ...) for a target of shape (N, ...); the
            predicted label is then the argmax over dim 1.
        target: integer ground-truth label map, for example of shape (N, H, W).
        num_classes: number of classes K.
        ignore_index: target value whose pixels are left out, whatever is predicted there
            (a prediction outside $[0, K)$ is tolerated only at those pixels). ``None``
            ignores nothing.

    Returns:
        An int64 tensor of shape (K, K): rows are ground truth, columns are predictions.

    Raises:
        TypeError: on a non-integer target, a bool input, or a floating pred that is not
            logits, or a non-int ``num_classes`` / ``ignore_index``.
        ValueError: on ``num_classes < 1``, mismatched shapes, logits with K other than
            ``num_classes``, or labels outside $[0, K)$ (the message names them).

    Examples:
        Pixel (1, 1) is ignored; the others give one row per true class:

        >>> target = torch.tensor([[0, 0, 1], [1, 255, 2]])
        >>> pred = torch.tensor([[0, 1, 1], [1, 0, 0]])
        >>> confusion_matrix(pred, target, num_classes=3)
        tensor([[1, 1, 0],
                [0, 2, 0],
                [1, 0, 0]])

        Logits of shape (N, K, H, W) are reduced by argmax over the class dim:

        >>> logits = torch.nn.functional.one_hot(pred, 3).permute(2, 0, 1)[None].float()
        >>> confusion_matrix(logits, target[None], num_classes=3).tolist()
        [[1, 1, 0], [0, 2, 0], [1, 0, 0]]

        >>> confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 5]), num_classes=3)
        Traceback (most recent call last):
            ...
        ValueError: target has labels outside [0, 3) that are not ignore_index=255: [5]
    """
    _check_num_classes(num_classes)
    _check_ignore_index(ignore_index)
    return _batch_confusion_matrix(pred, target, num_classes, ignore_index)


def _areas(cm: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Returns float64 (TP, ground-truth area, predicted area) per class."""
    if not isinstance(cm, Tensor):
        raise TypeError(f"cm must be a tensor, got {type(cm).__name__}")
    if cm.dim() != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square (K, K) matrix, got shape {tuple(cm.shape)}")
    if cm.dtype == torch.bool or cm.is_complex():
        raise TypeError(f"cm must hold counts, got dtype {cm.dtype}")
    cm = cm.to(torch.float64)
    return cm.diagonal(), cm.sum(dim=1), cm.sum(dim=0)


def pixel_accuracy(cm: Tensor) -> Tensor:
    r"""Pixel accuracy (mmseg ``aAcc``): the fraction of valid pixels predicted correctly.

    $$
    \mathrm{PA} = \frac{\sum_c TP_c}{\sum_{i,j} C_{ij}}
    $$

    Args:
        cm: confusion matrix of shape (K, K), rows ground truth, columns prediction.

    Returns:
        A 0-d float64 tensor; NaN when the matrix is empty (every pixel was ignored).

    Examples:
        >>> cm = torch.tensor([[1, 1, 0], [0, 2, 0], [1, 0, 0]])
        >>> pixel_accuracy(cm)  # (1 + 2 + 0) / 5
        tensor(0.6000, dtype=torch.float64)
        >>> pixel_accuracy(torch.zeros(3, 3, dtype=torch.int64))
        tensor(nan, dtype=torch.float64)
    """
    tp, gt, _ = _areas(cm)
    return tp.sum() / gt.sum()


def accuracy_per_class(cm: Tensor) -> Tensor:
    r"""Per-class accuracy (recall, mmseg ``Acc``): $\mathrm{Acc}_c = TP_c / (TP_c + FN_c)$.

    Args:
        cm: confusion matrix of shape (K, K), rows ground truth, columns prediction.

    Returns:
        A float64 tensor of shape (K,); NaN for classes absent from the ground truth.

    Examples:
        Class 2 is only predicted, never true, so its accuracy is undefined:

        >>> cm = torch.tensor([[1, 1, 1], [0, 2, 0], [0, 0, 0]])
        >>> accuracy_per_class(cm).tolist()  # [1/3, 2/2, 0/0]
        [0.3333333333333333, 1.0, nan]
    """
    tp, gt, _ = _areas(cm)
    return tp / gt


def mean_pixel_accuracy(cm: Tensor) -> Tensor:
    r"""Mean pixel accuracy (mmseg ``mAcc``): the mean of per-class accuracy over true classes.

    $$
    \mathrm{MPA} = \frac{1}{|\mathcal{G}|} \sum_{c \in \mathcal{G}} \frac{TP_c}{TP_c + FN_c}
    $$

    where $\mathcal{G}$ is the set of classes present in the ground truth; the others have
    an undefined (NaN) accuracy and are left out.

    Args:
        cm: confusion matrix of shape (K, K), rows ground truth, columns prediction.

    Returns:
        A 0-d float64 tensor; NaN when no class is present in the ground truth.

    Examples:
        >>> cm = torch.tensor([[1, 1, 1], [0, 2, 0], [0, 0, 0]])
        >>> mean_pixel_accuracy(cm)  # (1/3 + 2/2) / 2; class 2 is never true
        tensor(0.6667, dtype=torch.float64)
    """
    return torch.nanmean(accuracy_per_class(cm))


def iou_per_class(cm: Tensor) -> Tensor:
    r"""Intersection over union of each class: $IoU_c = TP_c / (TP_c + FP_c + FN_c)$.

    A class absent from both ground truth and prediction gets NaN (0/0); a class that is
    predicted but never true gets 0.

    Args:
        cm: confusion matrix of shape (K, K), rows ground truth, columns prediction.

    Returns:
        A float64 tensor of shape (K,).

    Examples:
        Class 2 is predicted once but never true; class 3 appears nowhere:

        >>> cm = torch.tensor([[1, 0, 1, 0], [0, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
        >>> iou_per_class(cm).tolist()  # [1/(1+0+1), 2/2, 0/(0+1+0), 0/0]
        [0.5, 1.0, 0.0, nan]
    """
    tp, gt, pr = _areas(cm)
    return tp / (gt + pr - tp)


def mean_iou(cm: Tensor) -> Tensor:
    r"""Mean intersection over union (mmseg ``mIoU``) over the classes that occur at all.

    $$
    \mathrm{mIoU} = \frac{1}{|\mathcal{C}|} \sum_{c \in \mathcal{C}}
        \frac{TP_c}{TP_c + FP_c + FN_c}
    $$

    where $\mathcal{C}$ holds the classes present in the ground truth or the prediction.

    Args:
        cm: confusion matrix of shape (K, K), rows ground truth, columns prediction.

    Returns:
        A 0-d float64 tensor; NaN when the matrix is empty.

    Examples:
        >>> cm = torch.tensor([[1, 0, 1, 0], [0, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
        >>> mean_iou(cm)  # (1/2 + 1 + 0) / 3; class 3 is left out
        tensor(0.5000, dtype=torch.float64)
    """
    return torch.nanmean(iou_per_class(cm))


class SegmentationMetric:
    r"""Accumulates a confusion matrix over a dataset and reports the mmseg metrics.

    ``update`` adds each batch to one (K, K) matrix; ``compute`` divides only at the end,
    so a class's IoU is $\sum TP / \sum (TP + FP + FN)$ over the whole dataset, never a
    mean of per-image IoUs. For distributed evaluation, sum the matrices (``merge``, ``+``,
    or an all-reduce of ``confusion_matrix``) before computing.

    Args:
        num_classes: number of classes K.
        ignore_index: target value whose pixels are left out; ``None`` ignores nothing.

    Raises:
        TypeError: if ``num_classes`` or ``ignore_index`` is not an int.
        ValueError: if ``num_classes < 1``.

    Examples:
        Four classes; class 2 is predicted once but never true, class 3 appears nowhere:

        >>> metric = SegmentationMetric(num_classes=4)
        >>> metric.update(torch.tensor([[0, 2, 1, 1]]), torch.tensor([[0, 0, 1, 1]]))
        >>> result = metric.compute()
        >>> result["IoU"]  # [1/(1+0+1), 2/2, 0/(0+1+0), 0/0]
        [0.5, 1.0, 0.0, nan]
        >>> result["Acc"]  # [1/2, 2/2, 0/0, 0/0]
        [0.5, 1.0, nan, nan]
        >>> result["mIoU"], result["mAcc"], result["aAcc"]  # (1/2+1+0)/3, (1/2+1)/2, 3/4
        (0.5, 0.75, 0.75)

        Metrics from two workers add up to the metric of all their data:

        >>> other = SegmentationMetric(num_classes=4)
        >>> other.update(torch.tensor([[3, 3]]), torch.tensor([[3, 255]]))
        >>> (metric + other).compute()["IoU"]
        [0.5, 1.0, 0.0, 1.0]
    """

    def __init__(self, num_classes: int, ignore_index: int | None = 255) -> None:
        self._num_classes = _check_num_classes(num_classes)
        _check_ignore_index(ignore_index)
        self._ignore_index = ignore_index
        self._cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    @property
    def num_classes(self) -> int:
        """Number of classes K."""
        return self._num_classes

    @property
    def ignore_index(self) -> int | None:
        """Target value whose pixels are left out (``None``: nothing is ignored)."""
        return self._ignore_index

    @property
    def confusion_matrix(self) -> Tensor:
        """A copy of the accumulated (K, K) int64 matrix, rows ground truth."""
        return self._cm.clone()

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Adds one batch to the accumulated confusion matrix.

        Args:
            pred: label map of the same shape as ``target``, or logits of shape (N, K, ...)
                for a target of shape (N, ...).
            target: integer ground-truth label map, for example of shape (N, H, W).

        Raises:
            TypeError: on a non-integer target or a floating pred that is not logits.
            ValueError: on mismatched shapes or labels outside $[0, K)$; see
                `confusion_matrix`.
        """
        batch = _batch_confusion_matrix(pred, target, self._num_classes, self._ignore_index)
        if self._cm.device != batch.device:
            self._cm = self._cm.to(batch.device)
        self._cm += batch

    def compute(self) -> dict[str, float | list[float] | Tensor]:
        """Computes the metrics from everything accumulated so far.

        Returns:
            A dict with python floats in $[0, 1]$ (mmseg reports the same in percent):
            ``"aAcc"`` pixel accuracy, ``"mIoU"``, ``"mAcc"``, per-class lists ``"IoU"``
            and ``"Acc"`` (NaN where undefined), and ``"confusion_matrix"``, a copy.
        """
        cm = self._cm
        return {
            "aAcc": float(pixel_accuracy(cm)),
            "mIoU": float(mean_iou(cm)),
            "mAcc": float(mean_pixel_accuracy(cm)),
            "IoU": iou_per_class(cm).tolist(),
            "Acc": accuracy_per_class(cm).tolist(),
            "confusion_matrix": cm.clone(),
        }

    def reset(self) -> None:
        """Clears the accumulated matrix."""
        self._cm.zero_()

    def _check_compatible(self, other: object) -> SegmentationMetric:
        if not isinstance(other, SegmentationMetric):
            raise TypeError(f"can only merge a SegmentationMetric, got {type(other).__name__}")
        mine = (self._num_classes, self._ignore_index)
        theirs = (other._num_classes, other._ignore_index)
        if mine != theirs:
            raise ValueError(
                f"cannot merge metrics with (num_classes, ignore_index) {mine} and {theirs}"
            )
        return other

    def merge(self, other: SegmentationMetric) -> SegmentationMetric:
        """Adds another metric's matrix to this one in place.

        Args:
            other: a metric with the same ``num_classes`` and ``ignore_index``.

        Returns:
            This metric, for chaining.

        Raises:
            ValueError: if ``num_classes`` or ``ignore_index`` differ.
        """
        self._check_compatible(other)
        self._cm += other._cm.to(self._cm.device)
        return self

    def __add__(self, other: SegmentationMetric) -> SegmentationMetric:
        if not isinstance(other, SegmentationMetric):
            return NotImplemented
        result = SegmentationMetric(self._num_classes, self._ignore_index)
        result._cm = self._cm.clone()
        return result.merge(other)

    def __radd__(self, other: object) -> SegmentationMetric:
        """Lets ``sum(metrics)`` work: ``0 + metric`` is a copy of ``metric``.

        Examples:
            >>> a, b = SegmentationMetric(2), SegmentationMetric(2)
            >>> a.update(torch.tensor([0, 1]), torch.tensor([0, 1]))
            >>> b.update(torch.tensor([1, 1]), torch.tensor([0, 1]))
            >>> sum([a, b]).confusion_matrix.tolist()
            [[1, 1], [0, 2]]
        """
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self + SegmentationMetric(self._num_classes, self._ignore_index)
        return NotImplemented

    def __repr__(self) -> str:
        return (
            f"SegmentationMetric(num_classes={self._num_classes}, "
            f"ignore_index={self._ignore_index})"
        )
