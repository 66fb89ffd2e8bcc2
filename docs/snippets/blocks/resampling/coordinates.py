import torch

from knowledge.blocks import interpolate_nearest, source_coordinates

# Upsample 4 pixels to 8: where does each output pixel read the input?
row = torch.arange(4.0).view(1, 1, 1, 4)  # the value of each pixel is its index
nearest = interpolate_nearest(row, size=(1, 8)).flatten()
half_pixel = source_coordinates(4, 8)  # align_corners=False
corners = source_coordinates(4, 8, align_corners=True)
print(" d | nearest | u, align_corners=False | u, align_corners=True")
for d in range(8):
    print(f" {d} |    {int(nearest[d])}    |{half_pixel[d]:14.4f}{' ' * 10}|{corners[d]:12.4f}")

# With scale_factor, torch maps by 1 / scale_factor unless recompute_scale_factor=True
print("5 px x 1.5 -> 7 px")
print("  s = 1/1.5:", [round(v, 4) for v in source_coordinates(5, 7, scale_factor=1.5).tolist()])
print("  s = 5/7:  ", [round(v, 4) for v in source_coordinates(5, 7).tolist()])
