"""Times ``SegmentationMetric.update`` against torchmetrics on the same random batch.

Run with ``python bench/bench_metrics.py`` from the repository root (needs torchmetrics).
"""

from __future__ import annotations

import torch
from timing import median_ms

from knowledge.metrics import SegmentationMetric


def bench_update(
    repeats: int = 20,
    *,
    shape: tuple[int, ...] = (8, 512, 512),
    num_classes: int = 150,
    ignore_fraction: float = 0.0,
    threads: int = 2,
    seed: int = 0,
) -> dict[str, float]:
    """Median milliseconds per ``update`` call: ours vs torchmetrics' MulticlassJaccardIndex.

    With ``ignore_fraction > 0`` that share of target pixels is set to 255 and torchmetrics
    gets ``ignore_index=255`` too; with 0 it gets no ignore_index (its fastest path), while
    ours still checks for 255.
    """
    from torchmetrics.classification import MulticlassJaccardIndex

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(0, num_classes, shape, generator=gen)
    pred = torch.randint(0, num_classes, shape, generator=gen)
    tm_ignore = None
    if ignore_fraction > 0:
        target[torch.rand(shape, generator=gen) < ignore_fraction] = 255
        tm_ignore = 255

    ours = SegmentationMetric(num_classes, ignore_index=255)
    tm_fast = MulticlassJaccardIndex(num_classes, ignore_index=tm_ignore, validate_args=False)
    tm_validate = MulticlassJaccardIndex(num_classes, ignore_index=tm_ignore, validate_args=True)
    fns = {
        "ours_ms": lambda: ours.update(pred, target),
        "tm_fast_ms": lambda: tm_fast.update(pred, target),
        "tm_validate_ms": lambda: tm_validate.update(pred, target),
    }
    result = median_ms(fns, repeats, warmup=3)
    result["ratio_fast"] = result["tm_fast_ms"] / result["ours_ms"]
    result["ratio_validate"] = result["tm_validate_ms"] / result["ours_ms"]
    return result


if __name__ == "__main__":
    for fraction in (0.0, 0.1):
        timings = bench_update(ignore_fraction=fraction)
        print(
            f"ignore_fraction={fraction}: " + ", ".join(f"{k}={v:.2f}" for k, v in timings.items())
        )
