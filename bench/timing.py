"""Side-by-side timing shared by the bench entries."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ms(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 3) -> dict:
    """Median milliseconds per call of each function, timed round-robin in a rotating order.

    Rotating the order each round makes a change in machine load hit every entry alike, so
    the ratios between entries stay meaningful on a busy machine.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for i in range(warmup + repeats):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            fns[name]()
            if i >= warmup:
                times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(ts) for name, ts in times.items()}
