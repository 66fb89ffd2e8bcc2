"""Tests for knowledge.metrics.segmentation against independent oracles.

Oracles: torchmetrics (a separate implementation), a plain-Python loop over pixels that
spells out the mmseg definitions, and small cases worked by hand as fractions.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassJaccardIndex,
)

from knowledge.metrics import (
    SegmentationMetric,
    accuracy_per_class,
    confusion_matrix,
    iou_per_class,
    mean_iou,
    mean_pixel_accuracy,
    pixel_accuracy,
)

IGNORE = 255
NAN = float("nan")


def random_case(seed: int, shape: tuple[int, ...], k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (pred, target) with ignored pixels, a predicted-only class and an absent class.

    The target uses classes [0, k-2), the prediction [0, k-1): class k-2 is only predicted,
    class k-1 appears nowhere. About 15% of target pixels are IGNORE.
    """
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(0, k - 2, shape, generator=gen)
    pred = torch.randint(0, k - 1, shape, generator=gen)
    target[torch.rand(shape, generator=gen) < 0.15] = IGNORE
    return pred, target


def assert_floats_equal(actual: list[float], expected: list[float], tol: float = 1e-12) -> None:
    """Element-wise equality where NaN only matches NaN."""
    assert len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        if math.isnan(e):
            assert math.isnan(a), f"index {i}: expected NaN, got {a}"
        else:
            assert a == pytest.approx(e, abs=tol), f"index {i}: {a} != {e}"


# --------------------------------------------------------------------------------------
# Oracle 1: torchmetrics
# --------------------------------------------------------------------------------------

TM_CASES = [(0, (2, 17, 13), 5), (1, (4, 32, 32), 7), (2, (1, 64, 48), 10), (3, (3, 9, 9), 3)]


@pytest.mark.parametrize(("seed", "shape", "k"), TM_CASES)
def test_confusion_matrix_matches_torchmetrics(seed, shape, k):
    pred, target = random_case(seed, shape, k)
    expected = MulticlassConfusionMatrix(num_classes=k, ignore_index=IGNORE)(pred, target)
    cm = confusion_matrix(pred, target, k)
    assert cm.dtype == torch.int64
    assert torch.equal(cm, expected.to(torch.int64))


@pytest.mark.parametrize(("seed", "shape", "k"), TM_CASES)
def test_scores_match_torchmetrics(seed, shape, k):
    pred, target = random_case(seed, shape, k)
    cm = confusion_matrix(pred, target, k)

    tm_miou = MulticlassJaccardIndex(num_classes=k, average="macro", ignore_index=IGNORE)
    assert mean_iou(cm).item() == pytest.approx(tm_miou(pred, target).item(), abs=1e-6)

    tm_pa = MulticlassAccuracy(num_classes=k, average="micro", ignore_index=IGNORE)
    assert pixel_accuracy(cm).item() == pytest.approx(tm_pa(pred, target).item(), abs=1e-6)

    # torchmetrics reports 0 instead of NaN for classes that occur nowhere; compare the
    # classes present in target or prediction, and check the NaN ourselves.
    tm_iou = MulticlassJaccardIndex(num_classes=k, average=None, ignore_index=IGNORE)
    tm_iou = tm_iou(pred, target).double()
    valid = target != IGNORE
    occurring = torch.zeros(k, dtype=torch.bool)
    occurring[target[valid]] = True
    occurring[pred[valid]] = True
    assert occurring[k - 2] and not occurring[k - 1]
    ours = iou_per_class(cm)
    torch.testing.assert_close(ours[occurring], tm_iou[occurring], atol=1e-6, rtol=0)
    assert ours[k - 2] == 0.0  # predicted-only
    assert math.isnan(ours[k - 1])  # absent everywhere

    # Per-class recall: torchmetrics agrees on classes present in the target.
    tm_acc = MulticlassAccuracy(num_classes=k, average=None, ignore_index=IGNORE)
    tm_acc = tm_acc(pred, target).double()
    in_target = torch.zeros(k, dtype=torch.bool)
    in_target[target[valid]] = True
    acc = accuracy_per_class(cm)
    torch.testing.assert_close(acc[in_target], tm_acc[in_target], atol=1e-6, rtol=0)
    assert acc[~in_target].isnan().all()


# --------------------------------------------------------------------------------------
# Oracle 2: plain Python, one pixel at a time, mmseg definitions with explicit NaN rules
# --------------------------------------------------------------------------------------


def python_oracle(pred: list[int], target: list[int], k: int, ignore: int | None) -> dict:
    tp, fp, fn = [0] * k, [0] * k, [0] * k
    total = correct = 0
    for p, t in zip(pred, target, strict=True):
        if t == ignore:
            continue
        total += 1
        if p == t:
            tp[t] += 1
            correct += 1
        else:
            fn[t] += 1
            fp[p] += 1
    iou, acc = [], []
    for c in range(k):
        in_target = tp[c] + fn[c] > 0
        in_pred = tp[c] + fp[c] > 0
        iou.append(tp[c] / (tp[c] + fp[c] + fn[c]) if in_target or in_pred else NAN)
        acc.append(tp[c] / (tp[c] + fn[c]) if in_target else NAN)

    def nanmean(values: list[float]) -> float:
        kept = [v for v in values if not math.isnan(v)]
        return sum(kept) / len(kept) if kept else NAN

    return {
        "IoU": iou,
        "Acc": acc,
        "mIoU": nanmean(iou),
        "mAcc": nanmean(acc),
        "aAcc": correct / total if total else NAN,
    }


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ignore", [IGNORE, None])
def test_matches_python_oracle(seed, ignore):
    k = 6
    pred, target = random_case(seed, (2, 6, 5), k)
    if ignore is None:
        target[target == IGNORE] = 1
    expected = python_oracle(pred.flatten().tolist(), target.flatten().tolist(), k, ignore)

    metric = SegmentationMetric(k, ignore_index=ignore)
    metric.update(pred, target)
    result = metric.compute()
    for key in ("IoU", "Acc"):
        assert_floats_equal(result[key], expected[key])
    for key in ("mIoU", "mAcc", "aAcc"):
        assert_floats_equal([result[key]], [expected[key]])

    cm = confusion_matrix(pred, target, k, ignore_index=ignore)
    assert_floats_equal(iou_per_class(cm).tolist(), expected["IoU"])
    assert_floats_equal([mean_pixel_accuracy(cm).item()], [expected["mAcc"]])


# --------------------------------------------------------------------------------------
# Oracle 3: worked by hand
# --------------------------------------------------------------------------------------


def test_hand_worked_example():
    # 3 classes on a 2x3 image, one ignored pixel:
    #   target  0   0   1        pred  0   1   1
    #           1  255  1              2   0   1
    # valid (target, pred) pairs: (0,0) (0,1) (1,1) (1,2) (1,1)
    target = torch.tensor([[0, 0, 1], [1, IGNORE, 1]])
    pred = torch.tensor([[0, 1, 1], [2, 0, 1]])
    cm = confusion_matrix(pred, target, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 1], [0, 0, 0]]
    # class 0: TP=1, FN=1 (0->1), FP=0           IoU 1/2, Acc 1/2
    # class 1: TP=2, FN=1 (1->2), FP=1 (0->1)    IoU 2/4, Acc 2/3
    # class 2: TP=0, FN=0, FP=1 (1->2)           IoU 0/1 = 0, Acc 0/0 = NaN (never true)
    iou = [Fraction(1, 2), Fraction(2, 4), Fraction(0, 1)]
    acc = [Fraction(1, 2), Fraction(2, 3)]
    assert_floats_equal(iou_per_class(cm).tolist(), [float(v) for v in iou])
    assert_floats_equal(accuracy_per_class(cm).tolist(), [*(float(v) for v in acc), NAN])
    assert mean_iou(cm).item() == pytest.approx(float(sum(iou) / 3))  # 1/3
    assert mean_pixel_accuracy(cm).item() == pytest.approx(float(sum(acc) / 2))  # 7/12
    assert pixel_accuracy(cm).item() == pytest.approx(float(Fraction(3, 5)))  # TP 1+2 of 5


def test_absent_class_is_nan_and_left_out_of_means():
    # 4 classes, class 3 appears nowhere, class 2 only in the prediction.
    # target 0 0 1 ; pred 0 2 1 -> class 0: IoU 1/2, Acc 1/2; class 1: 1, 1; class 2: 0, NaN
    metric = SegmentationMetric(4)
    metric.update(torch.tensor([0, 2, 1]), torch.tensor([0, 0, 1]))
    result = metric.compute()
    assert_floats_equal(result["IoU"], [0.5, 1.0, 0.0, NAN])
    assert_floats_equal(result["Acc"], [0.5, 1.0, NAN, NAN])
    assert result["mIoU"] == pytest.approx(float(Fraction(3, 2) / 3))  # (1/2 + 1 + 0) / 3
    assert result["mAcc"] == pytest.approx(float(Fraction(3, 2) / 2))  # (1/2 + 1) / 2
    assert result["aAcc"] == pytest.approx(float(Fraction(2, 3)))
    assert torch.equal(result["confusion_matrix"], metric.confusion_matrix)


def test_dataset_accumulation_differs_from_per_image_mean():
    # image 1: target 0 0 0 0, pred 0 0 0 0 -> IoU_0 = 4/4, class 1 absent -> mIoU 1
    # image 2: target 0 1 1 1, pred 1 1 1 1 -> IoU_0 = 0/1, IoU_1 = 3/4  -> mIoU 3/8
    # per-image mean: (1 + 3/8) / 2 = 11/16
    # accumulated: class 0 TP 4, FN 1 -> 4/5; class 1 TP 3, FP 1 -> 3/4; mIoU = 31/40
    images = [
        (torch.tensor([[0, 0], [0, 0]]), torch.tensor([[0, 0], [0, 0]])),
        (torch.tensor([[1, 1], [1, 1]]), torch.tensor([[0, 1], [1, 1]])),
    ]
    metric = SegmentationMetric(2)
    for pred, target in images:
        metric.update(pred, target)
    accumulated = Fraction(31, 40)
    per_image = Fraction(11, 16)
    assert metric.compute()["mIoU"] == pytest.approx(float(accumulated))
    assert metric.compute()["mIoU"] != pytest.approx(float(per_image))
    single = [mean_iou(confusion_matrix(p, t, 2)).item() for p, t in images]
    assert sum(single) / 2 == pytest.approx(float(per_image))  # the oracle of the wrong way


def test_all_pixels_ignored_gives_nan_not_error():
    cm = confusion_matrix(torch.tensor([0, 1]), torch.tensor([IGNORE, IGNORE]), 2)
    assert cm.tolist() == [[0, 0], [0, 0]]
    for value in (pixel_accuracy(cm), mean_iou(cm), mean_pixel_accuracy(cm)):
        assert value.dtype == torch.float64 and value.dim() == 0 and value.isnan()
    nothing = torch.zeros(0, dtype=torch.int64)
    empty = confusion_matrix(nothing, nothing, 3)
    assert empty.tolist() == [[0] * 3] * 3


# --------------------------------------------------------------------------------------
# Input forms and ignore_index variants
# --------------------------------------------------------------------------------------


def test_logits_equal_argmax_labels():
    k = 5
    gen = torch.Generator().manual_seed(7)
    logits = torch.randn(3, k, 8, 6, generator=gen)
    _, target = random_case(7, (3, 8, 6), k)
    labels = logits.argmax(dim=1)
    assert torch.equal(confusion_matrix(logits, target, k), confusion_matrix(labels, target, k))
    a, b = SegmentationMetric(k), SegmentationMetric(k)
    a.update(logits, target)
    b.update(labels, target)
    assert torch.equal(a.confusion_matrix, b.confusion_matrix)


def test_small_dtypes_do_not_overflow():
    # uint8 * 150 overflows uint8; the result must match int64 inputs.
    pred, target = random_case(3, (2, 20, 20), 150)
    expected = confusion_matrix(pred, target, 150)
    assert expected.sum() > 0
    got = confusion_matrix(pred.to(torch.uint8), target.to(torch.uint8), 150)
    assert torch.equal(got, expected)
    assert torch.equal(confusion_matrix(pred.int(), target.short(), 150), expected)
    assert torch.equal(confusion_matrix(pred, target.to(torch.uint8), 150), expected)
    # int8 labels with -1 as the ignored value
    pred6, target6 = random_case(4, (2, 20, 20), 6)
    signed = target6.clone()
    signed[signed == IGNORE] = -1
    assert torch.equal(
        confusion_matrix(pred6, signed.to(torch.int8), 6, -1), confusion_matrix(pred6, target6, 6)
    )
    bad = target.to(torch.uint8)
    bad[0, 0, :2] = torch.tensor([200, 151], dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"outside \[0, 150\).*: \[151, 200\]"):
        confusion_matrix(pred, bad, 150)


def test_other_ignore_indices():
    # target 0 1 X 1 ; pred 0 0 1 1 with X the ignored value
    pred = torch.tensor([0, 0, 1, 1])
    expected = [[1, 0], [1, 1]]
    for x in (-1, 2**40):
        target = torch.tensor([0, 1, x, 1])
        assert confusion_matrix(pred, target, 2, ignore_index=x).tolist() == expected
    # an ignore_index inside [0, K) drops that class's ground-truth pixels
    target = torch.tensor([0, 1, 2, 1])
    assert confusion_matrix(pred, target, 3, ignore_index=2).tolist() == [
        [1, 0, 0],
        [1, 1, 0],
        [0, 0, 0],
    ]
    # ignore_index=None counts everything, so 255 is an error
    with pytest.raises(ValueError, match=r"target has labels outside \[0, 2\).*\[255\]"):
        confusion_matrix(pred, torch.tensor([0, 1, IGNORE, 1]), 2, ignore_index=None)


def test_out_of_range_pred_is_tolerated_only_where_ignored():
    target = torch.tensor([0, IGNORE, 1])
    assert confusion_matrix(torch.tensor([0, 9, 1]), target, 2).tolist() == [[1, 0], [0, 1]]
    with pytest.raises(ValueError, match=r"pred has labels outside \[0, 2\): \[-1, 9\]"):
        confusion_matrix(torch.tensor([-1, 0, 9]), target.clone().fill_(0), 2)


# --------------------------------------------------------------------------------------
# SegmentationMetric: merge, add, reset
# --------------------------------------------------------------------------------------


def test_merge_and_add_equal_single_metric():
    k = 6
    batches = [random_case(seed, (2, 10, 10), k) for seed in (10, 11, 12)]
    whole = SegmentationMetric(k)
    for pred, target in batches:
        whole.update(pred, target)

    first, second = SegmentationMetric(k), SegmentationMetric(k)
    first.update(*batches[0])
    second.update(*batches[1])
    second.update(*batches[2])
    before = first.confusion_matrix

    summed = first + second
    assert torch.equal(summed.confusion_matrix, whole.confusion_matrix)
    assert torch.equal(first.confusion_matrix, before)  # + does not modify its operands

    assert first.merge(second) is first
    assert torch.equal(first.confusion_matrix, whole.confusion_matrix)
    assert_floats_equal(first.compute()["IoU"], whole.compute()["IoU"])


def test_reset_and_read_only_matrix():
    metric = SegmentationMetric(3)
    assert metric.update(torch.tensor([0, 1]), torch.tensor([0, 2])) is None
    assert metric.confusion_matrix.sum() == 2
    metric.confusion_matrix.zero_()  # a copy: the metric keeps its counts
    assert metric.confusion_matrix.sum() == 2
    with pytest.raises(AttributeError):
        metric.confusion_matrix = torch.zeros(3, 3)
    metric.reset()
    assert metric.confusion_matrix.tolist() == [[0] * 3] * 3
    assert math.isnan(metric.compute()["aAcc"])


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def test_out_of_range_target_names_values():
    pred = torch.zeros(5, dtype=torch.int64)
    target = torch.tensor([0, 5, 7, IGNORE, 5])
    msg = r"target has labels outside \[0, 3\) that are not ignore_index=255: \[5, 7\]"
    with pytest.raises(ValueError, match=msg):
        confusion_matrix(pred, target, 3)
    with pytest.raises(ValueError, match=r"outside \[0, 3\).*\[-2\]"):
        SegmentationMetric(3).update(pred, torch.tensor([0, -2, 1, 1, IGNORE]))
    with pytest.raises(ValueError, match=r"outside \[0, 3\).*\[1099511627776\]"):
        confusion_matrix(pred, torch.tensor([0, 2**40, 1, 1, IGNORE]), 3)


def test_out_of_range_pred_names_values():
    with pytest.raises(ValueError, match=r"pred has labels outside \[0, 3\): \[3, 4\]"):
        confusion_matrix(torch.tensor([0, 3, 4, 3]), torch.tensor([0, 1, 2, 1]), 3)


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        confusion_matrix(torch.zeros(2, 3, dtype=torch.int64), torch.zeros(3, 2).long(), 2)
    with pytest.raises(ValueError, match=r"\(1, 2, 4, 4\).*\(1, 4, 5\)"):
        confusion_matrix(torch.zeros(1, 2, 4, 4), torch.zeros(1, 4, 5).long(), 2)


def test_dtype_errors():
    with pytest.raises(TypeError, match="target must be an integer label map"):
        confusion_matrix(torch.zeros(4).long(), torch.zeros(4), 2)
    with pytest.raises(TypeError, match="not logits"):
        confusion_matrix(torch.zeros(4), torch.zeros(4).long(), 2)
    with pytest.raises(TypeError, match="bool"):
        confusion_matrix(torch.zeros(4, dtype=torch.bool), torch.zeros(4).long(), 2)


def test_num_classes_errors():
    with pytest.raises(ValueError, match="num_classes must be >= 1, got 0"):
        confusion_matrix(torch.zeros(2).long(), torch.zeros(2).long(), 0)
    with pytest.raises(ValueError, match="num_classes must be >= 1, got -3"):
        SegmentationMetric(-3)
    with pytest.raises(TypeError, match=r"num_classes must be an int, got 2\.0"):
        SegmentationMetric(2.0)


def test_logits_with_wrong_num_classes():
    with pytest.raises(ValueError, match="logits have 4 classes in dim 1 but num_classes=3"):
        confusion_matrix(torch.zeros(2, 4, 3, 3), torch.zeros(2, 3, 3).long(), 3)


def test_merging_mismatched_metrics():
    with pytest.raises(ValueError, match=r"\(3, 255\) and \(4, 255\)"):
        SegmentationMetric(3).merge(SegmentationMetric(4))
    with pytest.raises(ValueError, match=r"\(3, 255\) and \(3, None\)"):
        SegmentationMetric(3) + SegmentationMetric(3, ignore_index=None)
    with pytest.raises(TypeError):
        SegmentationMetric(3) + 1


def test_sum_of_metrics_equals_one_metric_over_all_batches():
    batches = [random_case(seed, (2, 8, 8), 4) for seed in range(3)]
    parts = []
    for pred, target in batches:
        m = SegmentationMetric(4)
        m.update(pred, target)
        parts.append(m)
    whole = SegmentationMetric(4)
    for pred, target in batches:
        whole.update(pred, target)
    assert torch.equal(sum(parts).confusion_matrix, whole.confusion_matrix)
    with pytest.raises(TypeError):
        1 + parts[0]
