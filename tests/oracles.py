"""Test-only access to torchvision as an oracle, on the CPU build of torch.

torchvision's PyPI wheel links CUDA libraries. On CPU torch its compiled ops (``_C``) do not
load, and ``import torchvision`` then fails with "operator torchvision::nms does not exist",
because its Python side registers fake kernels for ops that nobody declared. Declaring the
``nms`` and ``qnms`` schemas first (no kernels) lets the import through; after that the
pure-Python parts run (``box_iou``, ``AnchorGenerator``, ``BoxCoder``, the eager
``roi_align`` fallback, FPN, ...), while ``nms``, ``roi_pool`` and other compiled ops do not.

It also holds ``reference_nms``, a plain-Python greedy NMS written from the definition,
for the tests of NMS and of the detector that uses it (torchvision's ``nms`` is compiled).

Nothing here is imported by the ``knowledge`` package.
"""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path
from types import ModuleType

import pytest
import torch

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_LIBRARY: list[torch.library.Library] = []  # keeps the declarations alive


def _compiled_ops_load(spec_origin: str) -> bool:
    """True when torchvision's own ``_C`` loads here (a CUDA machine, or a CPU wheel)."""
    for lib in sorted(Path(spec_origin).parent.glob("_C*.so")):
        try:
            torch.ops.load_library(str(lib))
        except OSError:
            return False
        return True
    return False


def declare_torchvision_schemas() -> None:
    """Declares the op schemas torchvision's import needs, unless they already exist."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None or _compiled_ops_load(spec.origin):
        return
    for name, schema in _SCHEMAS.items():
        try:
            getattr(torch.ops.torchvision, name)
        except (AttributeError, RuntimeError):
            if not _LIBRARY:
                _LIBRARY.append(torch.library.Library("torchvision", "FRAGMENT"))
            _LIBRARY[0].define(schema)


def torchvision_or_skip() -> ModuleType:
    """Imports torchvision for use as an oracle, or skips the calling test if it is absent."""
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision (test-only oracle) is not installed")
    declare_torchvision_schemas()
    import torchvision

    return torchvision


def torchvision_has_compiled_ops() -> bool:
    """Whether torchvision's C++/CUDA ops (nms, roi_pool, roi_align kernels) can run here."""
    from torchvision.extension import _has_ops

    return bool(_has_ops())


def _f32(x: float) -> float:
    """Rounds a Python float to the nearest float32 (one float32 operation on f32 inputs)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def reference_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> list[int]:
    """Greedy NMS from the definition, in plain Python.

    Visit boxes by decreasing score; ties keep their index order (Python's sort is stable).
    Keep a box unless its IoU with some already kept box is strictly above the threshold.
    For float32 boxes every arithmetic step is rounded to float32, as a float32 kernel
    would compute it; the comparison with the threshold is in float64, as torchvision's
    C++ kernel compares ``float`` with ``double``. A 0/0 IoU (two empty boxes) is not above
    any threshold.
    """
    rnd = _f32 if boxes.dtype == torch.float32 else float
    b, s = boxes.tolist(), scores.tolist()
    order = sorted(range(len(s)), key=lambda i: -s[i])
    area = [rnd(rnd(x2 - x1) * rnd(y2 - y1)) for x1, y1, x2, y2 in b]
    kept: list[int] = []
    for i in order:
        suppressed = False
        for k in kept:
            w = max(0.0, rnd(min(b[k][2], b[i][2]) - max(b[k][0], b[i][0])))
            h = max(0.0, rnd(min(b[k][3], b[i][3]) - max(b[k][1], b[i][1])))
            inter = rnd(w * h)
            union = rnd(rnd(area[k] + area[i]) - inter)
            if union > 0 and rnd(inter / union) > iou_threshold:
                suppressed = True
                break
        if not suppressed:
            kept.append(i)
    return kept
