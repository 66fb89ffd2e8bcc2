import torch

from knowledge.detection import roi_align, roi_pool

# A 6 x 6 feature map at stride 2 (spatial_scale = 1/2); value = 6 * row + column
x = torch.arange(36.0).reshape(1, 1, 6, 6)
print(x[0, 0].int())

box = torch.tensor([[0.0, 3.0, 3.0, 10.0, 9.0]])  # (batch index, x1, y1, x2, y2) in pixels
print("box on the feature map:", (box[0, 1:] * 0.5).tolist())

# RoI Pooling: round(1.5) = 2, round(5) = 5, round(4.5) = 5 -> cells 2..5 in both
# directions, 4 x 4 cells, split into 2 x 2 bins of 2 x 2 cells; each bin's maximum
print("roi_pool:")
print(roi_pool(x, box, 2, spatial_scale=0.5)[0, 0])

# RoI Align: bins 1.75 wide and 1.5 high, 2 x 2 bilinear samples each, averaged
for aligned in (False, True):
    out = roi_align(x, box, 2, spatial_scale=0.5, sampling_ratio=2, aligned=aligned)
    print(f"roi_align, aligned={aligned}:")
    print(out[0, 0])
