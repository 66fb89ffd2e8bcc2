import torch

from knowledge.detection import box_area, box_iou

# Boxes as (x1, y1, x2, y2) in pixels
a = torch.tensor([[0.0, 0.0, 4.0, 4.0]])
b = torch.tensor(
    [
        [2.0, 2.0, 6.0, 6.0],  # shifted by (2, 2): overlap 2 x 2
        [0.0, 0.0, 4.0, 2.0],  # the top half of a
        [4.0, 0.0, 8.0, 4.0],  # touches a along x = 4
    ]
)
print("area(a) =", box_area(a).item(), " areas(b) =", box_area(b).tolist())
iou = box_iou(a, b)  # shape (1, 3): every box of a against every box of b
for box, value in zip(b.tolist(), iou[0].tolist(), strict=True):
    print(f"IoU(a, {box}) = {value:.4f}")
