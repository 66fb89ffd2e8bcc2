import torch
import torch.nn.functional as F

from knowledge.blocks import interpolate_nearest

# 1. torch computes the nearest index in float32, not as an exact fraction.
# Stretch a 2-pixel row [0, 1] to 82 pixels: 41 copies of each would be the exact answer.
row = torch.tensor([[[[0.0, 1.0]]]])
wide = F.interpolate(row, size=(1, 82), mode="nearest")
print("exact floor(41 * 2 / 82):", 41 * 2 // 82, " torch copies pixel", int(wide[0, 0, 0, 41]))
print("zeros / ones:", int((wide == 0).sum()), "/", int((wide == 1).sum()))
print("interpolate_nearest agrees:", torch.equal(interpolate_nearest(row, size=(1, 82)), wide))

# 2. scale_factor=2.001 doubles a 10- and a 100-pixel row alike, but torch has two
# kernels: small outputs (H_out + W_out <= 128) treat an exact 2x as d // 2.
for width in (10, 100):
    x = torch.arange(float(width)).view(1, 1, 1, width)
    y = F.interpolate(x, scale_factor=(1.0, 2.001), mode="nearest")
    same = torch.equal(interpolate_nearest(x, scale_factor=(1.0, 2.001)), y)
    start = y[0, 0, 0, :6].int().tolist()
    print(f"width {width:3d} -> {y.shape[-1]}: starts {start}, ours agrees: {same}")

# 3. "nearest" is floor(d * s): downsampling keeps the top-left pixel of each block.
# "nearest-exact" rounds the half-pixel coordinate and keeps the centre-most one.
x = torch.arange(8.0).view(1, 1, 1, 8)
for mode in ("nearest", "nearest-exact"):
    print(f"{mode:13s} 8 -> 4:", F.interpolate(x, size=(1, 4), mode=mode).int().flatten().tolist())
