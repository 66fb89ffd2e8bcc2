"""Start a slow, deterministic computation in a worker process and collect it later.

The site's build uses this for the tutorial's training: started when the build begins, it
runs on the second CPU core while the other pages render, and the tutorial page takes the
result when it gets there. The caller names the function (``"package.module:function"``)
instead of passing it, so that starting the work imports nothing into the caller: a module
imported early could register classes (``MODELS``) and change what earlier pages print.

Examples:
    >>> take("knowledge.tutorial.train:_compute_tutorial_run") is None  # nothing started
    True
"""

from __future__ import annotations

import concurrent.futures
import importlib
import multiprocessing
from typing import Any

__all__ = ["start", "take"]

_PENDING: dict[str, concurrent.futures.Future] = {}


def _call(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)()


def start(target: str) -> None:
    """Call the zero-argument function ``target`` (``"module:function"``) in a worker process.

    The worker is a fresh interpreter (spawn), so the result depends only on the function;
    a function that seeds itself and pins its thread count returns bit for bit what it would
    return here. Does nothing if ``target`` is already pending.

    Raises:
        ValueError: if ``target`` is not of the form ``"module:function"``.
    """
    module, sep, name = target.partition(":")
    if not (module and sep and name):
        raise ValueError(f"target must look like 'package.module:function', got {target!r}")
    if target in _PENDING:
        return
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn")
    )
    _PENDING[target] = pool.submit(_call, target)
    pool.shutdown(wait=False)  # the submitted call goes on; the pool ends after it


def take(target: str) -> Any | None:
    """The result of a started ``target`` (waiting for it), or None if none was started.

    The result is handed out once; an exception raised in the worker is raised here.
    """
    future = _PENDING.pop(target, None)
    return None if future is None else future.result()
