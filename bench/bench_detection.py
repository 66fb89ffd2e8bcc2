"""Times ``knowledge.detection.nms`` and ``roi_align`` against reference implementations.

Run with ``python bench/bench_detection.py`` from the repository root. torchvision is an
optional, test-only dependency: where its compiled ops load, the references are
``torchvision.ops.nms`` and ``torchvision.ops.roi_align``. On the CPU build of torch they
do not load; NMS is then timed against the plain-Python greedy NMS below, and RoI Align
against torchvision's eager pure-Python ``roi_align`` (the function it falls back to,
without its lazy ``torch.compile``). Every result says which reference it used.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from timing import median_ms

from knowledge.detection import nms, roi_align

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def _torchvision() -> Any | None:
    """torchvision with its import shim (see tests/oracles.py), or None if not installed."""
    try:
        from oracles import declare_torchvision_schemas
    except ImportError:
        return None
    try:
        declare_torchvision_schemas()
        import torchvision
    except ImportError:
        return None
    return torchvision


def _compiled_ops(tv: Any | None) -> bool:
    if tv is None:
        return False
    from torchvision.extension import _has_ops

    return bool(_has_ops())


def python_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> list[int]:
    """Greedy NMS in plain Python: visit by score (stable), keep unless IoU > t with a kept box."""
    b, s = boxes.tolist(), scores.tolist()
    area = [(x2 - x1) * (y2 - y1) for x1, y1, x2, y2 in b]
    kept: list[int] = []
    for i in sorted(range(len(s)), key=lambda j: -s[j]):
        x1, y1, x2, y2 = b[i]
        for k in kept:
            w = max(0.0, min(x2, b[k][2]) - max(x1, b[k][0]))
            h = max(0.0, min(y2, b[k][3]) - max(y1, b[k][1]))
            union = area[i] + area[k] - w * h
            if union > 0 and w * h / union > iou_threshold:
                break
        else:
            kept.append(i)
    return kept


def random_boxes(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` boxes in a 1000 x 1000 image, sides 5 to 105, and uniform scores."""
    gen = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=gen) * 1000
    wh = torch.rand(n, 2, generator=gen) * 100 + 5
    return torch.cat([xy, xy + wh], dim=1), torch.rand(n, generator=gen)


def bench_nms(
    n_boxes: int = 5000, repeats: int = 5, *, iou_threshold: float = 0.5, threads: int = 2
) -> dict[str, Any]:
    """Median ms of ``nms`` on ``n_boxes`` random boxes vs a reference, and their ratio.

    Returns:
        ``ours_ms``, ``ref_ms``, ``ratio`` (ref / ours: above 1 means ours is faster),
        ``ref_name``, ``kept`` and whether both kept the same indices (``same``).
    """
    torch.set_num_threads(threads)
    boxes, scores = random_boxes(n_boxes)
    tv = _torchvision()
    if _compiled_ops(tv):
        ref_name = "torchvision.ops.nms (compiled)"
        ref: Callable[[], Any] = lambda: tv.ops.nms(boxes, scores, iou_threshold)  # noqa: E731
    else:
        ref_name = "plain-Python greedy NMS (bench/bench_detection.py)"
        ref = lambda: python_nms(boxes, scores, iou_threshold)  # noqa: E731
    ours = lambda: nms(boxes, scores, iou_threshold)  # noqa: E731
    timings = median_ms({"ours_ms": ours, "ref_ms": ref}, repeats, warmup=1)
    kept = ours().tolist()
    ref_kept = ref()
    same = kept == (ref_kept.tolist() if isinstance(ref_kept, torch.Tensor) else ref_kept)
    ratio = timings["ref_ms"] / timings["ours_ms"]
    return {**timings, "ratio": ratio, "ref_name": ref_name, "kept": len(kept), "same": same}


def bench_roi_align(
    repeats: int = 5,
    *,
    num_images: int = 2,
    channels: int = 64,
    feature_size: tuple[int, int] = (50, 68),
    num_rois: int = 256,
    output_size: int = 7,
    sampling_ratio: int = 2,
    threads: int = 2,
) -> dict[str, Any]:
    """Median ms of ``roi_align`` vs torchvision's, on a stride-16 map of an 800 x 1088 image.

    Returns:
        ``ours_ms``, ``ref_ms``, ``ratio`` (ref / ours), ``ref_name`` and ``max_abs_diff``;
        ``ref_ms`` is None when torchvision is not installed.
    """
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    h, w = feature_size
    x = torch.randn(num_images, channels, h, w, generator=gen)
    xy = torch.rand(num_rois, 2, generator=gen) * torch.tensor([w * 16 - 64.0, h * 16 - 64.0])
    wh = torch.rand(num_rois, 2, generator=gen) * 300 + 16
    ends = torch.minimum(xy + wh, torch.tensor([w * 16.0, h * 16.0]))
    batch = torch.randint(0, num_images, (num_rois, 1), generator=gen).float()
    rois = torch.cat([batch, xy, ends], dim=1)
    args = (output_size,)
    ours = lambda: roi_align(  # noqa: E731
        x, rois, *args, spatial_scale=1 / 16, sampling_ratio=sampling_ratio
    )
    tv = _torchvision()
    if tv is None:
        return {
            "ours_ms": median_ms({"o": ours}, repeats, warmup=1)["o"],
            "ref_ms": None,
            "ratio": None,
            "ref_name": "torchvision not installed",
            "max_abs_diff": None,
        }
    if _compiled_ops(tv):
        ref_name = "torchvision.ops.roi_align (compiled)"
        ref = lambda: tv.ops.roi_align(x, rois, output_size, 1 / 16, sampling_ratio)  # noqa: E731
    else:
        ref_name = "torchvision _roi_align (eager pure-Python fallback)"
        eager = sys.modules["torchvision.ops.roi_align"]._roi_align.__wrapped__
        ref = lambda: eager(  # noqa: E731
            x, rois, 1 / 16, output_size, output_size, sampling_ratio, False
        )
    timings = median_ms({"ours_ms": ours, "ref_ms": ref}, repeats, warmup=1)
    diff = (ours() - ref()).abs().max().item()
    ratio = timings["ref_ms"] / timings["ours_ms"]
    return {**timings, "ratio": ratio, "ref_name": ref_name, "max_abs_diff": diff}


if __name__ == "__main__":
    for n in (1000, 5000):
        result = bench_nms(n, repeats=3 if n > 1000 else 5)
        print(f"nms n={n}: " + ", ".join(f"{k}={v}" for k, v in result.items()))
    result = bench_roi_align()
    print("roi_align: " + ", ".join(f"{k}={v}" for k, v in result.items()))
