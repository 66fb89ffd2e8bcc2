import torch
import torch.nn.functional as F

# A 2x4 label map: class 1 next to class 3, and a strip of ignored (255) pixels
label = torch.tensor([[1, 1, 3, 255], [1, 1, 3, 255]])
x = label[None, None].float()  # (H, W) -> (1, 1, H, W), as interpolate expects

bilinear = F.interpolate(x, scale_factor=2, mode="bilinear").round().long()[0, 0]
nearest = F.interpolate(x, scale_factor=2, mode="nearest").long()[0, 0]

print("labels before: ", torch.unique(label).tolist())
print("bilinear x2:   ", torch.unique(bilinear).tolist())
print("nearest x2:    ", torch.unique(nearest).tolist())
print("bilinear row 0:", bilinear[0].tolist())
