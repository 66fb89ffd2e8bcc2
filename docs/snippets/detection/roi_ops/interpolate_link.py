import torch
import torch.nn.functional as F

from knowledge.detection import roi_align

torch.manual_seed(0)
x = torch.randn(1, 3, 5, 7, dtype=torch.float64)
whole = torch.tensor([[0.0, 0.0, 0.0, 7.0, 5.0]], dtype=torch.float64)  # the whole map

# RoI Align over the whole map, one sample per bin, half-pixel offset ...
for size in [(9, 13), (3, 4)]:
    a = roi_align(x, whole, size, sampling_ratio=1, aligned=True)
    # ... is bilinear resizing with align_corners=False
    b = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    diff = (a - b).abs().max().item()
    print(f"output {size}: roi_align == interpolate up to rounding: {diff < 1e-12}")
