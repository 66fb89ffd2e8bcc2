import torch
import torch.nn.functional as F

from knowledge.models import bilinear_kernel

torch.manual_seed(0)
for f in (2, 4):
    k = bilinear_kernel(1, 2 * f)[0, 0]  # (2f, 2f): the outer product of a 1-D filter
    filt = k.sum(0) / f  # the 1-D filter sums to f, so this recovers it
    ints = [round(v) for v in (filt * 2 * f).tolist()]
    print(f"factor {f}, kernel {2 * f}: 1-D filter = {ints} / {2 * f}")

f = 4
x = torch.rand(1, 3, 6, 6, dtype=torch.float64)
w = bilinear_kernel(3, 2 * f).double()
up = F.conv_transpose2d(x, w, stride=f, padding=f // 2)  # kernel 2f, stride f, padding f/2
b = f // 2  # the border: f/2 rows and columns on each side
print(f"\nConvTranspose2d(k={2 * f}, s={f}, p={f // 2}) on 6x6 -> {tuple(up.shape[-2:])}")
for align in (False, True):
    ref = F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=align)
    inner = (up - ref)[..., b:-b, b:-b].abs().max().item()
    print(f"  vs F.interpolate(align_corners={align}): interior max |diff| = {inner:.2f}")
ref = F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=False)
print(f"  border max |diff| (align_corners=False) = {(up - ref)[..., :b, :].abs().max():.2f}")

ones = torch.ones(1, 1, 3, 3)
print("\nfactor 2 on a 3x3 map of ones:")
print(F.conv_transpose2d(ones, bilinear_kernel(1, 4), stride=2, padding=1)[0, 0])
