import torch
import torch.nn.functional as F

from knowledge.blocks import interpolate_bilinear, interpolate_nearest

# The 12x12 label map of the figure: a disc of class 2 on background 0
yy, xx = torch.meshgrid(torch.arange(12), torch.arange(12), indexing="ij")
label = torch.where((yy - 5.5) ** 2 + (xx - 5.5) ** 2 < 16, 2, 0)[None, None]  # (1, 1, 12, 12)

blend = interpolate_bilinear(label.float(), scale_factor=4)
fractional = (blend != blend.round()).sum().item()
rounded = blend.round().long()
print("classes before:    ", label.unique().tolist())
print("bilinear, values:  ", blend.unique().numel(), f"distinct, {fractional} pixels not integer")
print(
    "bilinear, rounded: ",
    rounded.unique().tolist(),
    f"{(rounded == 1).sum().item()} pixels of class 1",
)
print("bilinear, row 21:  ", [round(v, 2) for v in blend[0, 0, 21, :12].tolist()])
print("nearest:           ", interpolate_nearest(label, scale_factor=4).unique().tolist())

# Predictions are resized as scores, not as labels: one channel per class, then argmax
scores = F.one_hot(label[:, 0], num_classes=3).permute(0, 3, 1, 2).float()  # (1, 3, 12, 12)
pred = interpolate_bilinear(scores, scale_factor=4).argmax(dim=1)
print("bilinear on scores, then argmax:", pred.unique().tolist())
