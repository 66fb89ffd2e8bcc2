import torch

from knowledge.detection import roi_align, roi_pool

# A stride-16 feature map whose value is the column index: it tells where a read came from
ramp = torch.arange(32.0).repeat(8, 1).reshape(1, 1, 8, 32)

print("shift  box x-range (px)   roi_pool   roi_align   box centre / 16 - 1/2")
for shift in range(0, 33, 4):
    box = torch.tensor([[0.0, 40.0 + shift, 32.0, 104.0 + shift, 96.0]])  # 64 px wide
    pooled = roi_pool(ramp, box, 1, spatial_scale=1 / 16).item()
    aligned = roi_align(ramp, box, 1, spatial_scale=1 / 16, sampling_ratio=2, aligned=True).item()
    centre = (72.0 + shift) / 16 - 0.5
    span = f"[{40 + shift:3}, {104 + shift:3}]"
    print(f"{shift:4} px   {span}       {pooled:5.1f}     {aligned:7.3f}      {centre:7.3f}")
