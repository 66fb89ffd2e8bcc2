import torch
import torch.nn.functional as F

from knowledge.models import FPN

torch.manual_seed(0)

# ResNet-50's C2..C5 for an 800x1199 image (strides 4..32; every stride-2 layer rounds up).
channels = [256, 512, 1024, 2048]
sizes = [(200, 300), (100, 150), (50, 75), (25, 38)]
with torch.device("meta"):  # shapes only
    fpn = FPN(channels, 256)
    feats = [torch.randn(1, c, h, w) for c, (h, w) in zip(channels, sizes, strict=True)]
    outs = fpn(feats)

for i, (c, p) in enumerate(zip(feats, outs, strict=False), start=2):
    print(f"C{i} {tuple(c.shape)!s:<22} -> P{i} {tuple(p.shape)}")
print(f"{'':<26} P6 {tuple(outs[-1].shape)}  (max pool, kernel 1, stride 2)")

count = sum(p.numel() for p in fpn.parameters())
laterals = sum(channels) * 256 + 4 * 256  # 1x1 convolutions with bias
smoothing = 4 * (9 * 256 * 256 + 256)  # 3x3 convolutions with bias
print(f"\nparameters: {count:,} = laterals {laterals:,} + 3x3 outputs {smoothing:,}")

# Upsampling by a factor instead of to a size breaks on odd sizes
m5 = torch.randn(1, 1, 25, 38)
up = F.interpolate(m5, scale_factor=2, mode="nearest")
print(f"\nscale_factor=2: {tuple(m5.shape[-2:])} -> {tuple(up.shape[-2:])}, but C4 is {sizes[2]}")
try:
    up + torch.zeros(1, 1, *sizes[2])
except RuntimeError as err:
    print("adding them:", str(err).splitlines()[0])
