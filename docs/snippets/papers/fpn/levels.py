import math

import torch

from knowledge.models import FPN

# ResNet-50's C2..C5 for an 800x1216 image (strides 4, 8, 16, 32), on the meta device
with torch.device("meta"):
    fpn = FPN([256, 512, 1024, 2048], 256).eval()
    feats = [torch.zeros(1, 256 * 2**i, 200 // 2**i, 304 // 2**i) for i in range(4)]
    outs = fpn(feats)
for name, p in zip(["P2", "P3", "P4", "P5", "P6"], outs, strict=True):
    print(f"{name}: {tuple(p.shape)}")
print(f"FPN parameters: {sum(p.numel() for p in fpn.parameters()):,}")


def level(w: float, h: float, k0: int = 4) -> int:
    """Paper's Eq. (1): the pyramid level a w x h RoI is pooled from, clamped to P2..P5."""
    k = math.floor(k0 + math.log2(math.sqrt(w * h) / 224))
    return min(max(k, 2), 5)


for w, h in [(32, 32), (64, 64), (112, 112), (224, 224), (448, 448), (800, 600)]:
    print(f"RoI {w:>3} x {h:<3} -> P{level(w, h)}")
