"""Times our Swin-T forward against timm's at 1x3x224x224 (eval mode, no grad).

Run with ``python bench/bench_swin.py`` from the repository root. Needs the test-only oracles
timm 1.0.x and torchvision 0.28.0 (declared as in tests/models/test_swin.py).

Two references: timm's ``swin_tiny_patch4_window7_224`` as shipped (fixed input size, masks
precomputed as buffers, no shift in the 7x7 stage) and timm configured like the official
segmentation code (``always_partition=True``, dynamic size, masks built on every forward),
which computes what ours computes. ``ratio`` is ours / shipped timm: below 1.2 is the target.
"""

from __future__ import annotations

from functools import partial

import torch
from timing import median_ms

from knowledge.models import SwinTransformer


def _declare_torchvision_ops() -> None:
    """torchvision's PyPI wheel needs these schemas before import on a CPU-only torch."""
    lib = torch.library.Library("torchvision", "FRAGMENT")
    for name in ("nms", "qnms"):
        try:
            getattr(torch.ops.torchvision, name)
        except (AttributeError, RuntimeError):
            lib.define(f"{name}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _declare_torchvision_ops.lib = lib  # keep the definitions alive


def bench_forward(repeats: int = 20, *, threads: int = 2, batch: int = 1) -> dict[str, float]:
    """Median milliseconds of one Swin-T forward at 224 x 224: ours vs timm.

    Returns:
        ``ours_ms``, ``ref_ms`` (timm as shipped), ``ref_seg_ms`` (timm in the official
        segmentation mode), ``ratio`` = ours_ms / ref_ms and ``ratio_seg`` = ours_ms /
        ref_seg_ms.
    """
    _declare_torchvision_ops()
    import timm
    from timm.layers import PatchEmbed
    from timm.models.swin_transformer import SwinTransformer as TimmSwin

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    ours = SwinTransformer().eval()
    ref = timm.create_model("swin_tiny_patch4_window7_224", num_classes=0).eval()
    ref_seg = TimmSwin(
        num_classes=0,
        always_partition=True,
        dynamic_img_size=True,
        embed_layer=partial(PatchEmbed, dynamic_img_pad=True),
    ).eval()
    x = torch.randn(batch, 3, 224, 224)
    fns = {
        "ours_ms": lambda: ours(x),
        "ref_ms": lambda: ref.forward_intermediates(x, intermediates_only=True),
        "ref_seg_ms": lambda: ref_seg.forward_intermediates(x, intermediates_only=True),
    }
    with torch.no_grad():
        result = median_ms(fns, repeats, warmup=3)
    result["ratio"] = result["ours_ms"] / result["ref_ms"]
    result["ratio_seg"] = result["ours_ms"] / result["ref_seg_ms"]
    return result


if __name__ == "__main__":
    print(", ".join(f"{k}={v:.2f}" for k, v in bench_forward().items()))
