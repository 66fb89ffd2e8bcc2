import torch

from knowledge.detection import box_iou, nms

# 1. Equal scores: the stable sort visits the smaller index first, and that box wins
twins = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 11.0, 10.0]])
equal = torch.tensor([0.8, 0.8])
print("IoU of the twins:", round(box_iou(twins[:1], twins[1:]).item(), 4))
for order in (twins, twins.flip(0)):
    keep = nms(order, equal, 0.5)
    print(f"boxes {order.tolist()} -> keeps {order[keep].tolist()}")

# 2. IoU exactly at the threshold is NOT suppressed: the test is IoU > threshold
half = torch.tensor([[0.0, 0.0, 4.0, 1.0], [0.0, 0.0, 2.0, 1.0]])  # IoU = 2 / 4
scores = torch.tensor([0.9, 0.8])
print("IoU = 0.5, threshold 0.5 :", nms(half, scores, 0.5).tolist())
print("IoU = 0.5, threshold 0.49:", nms(half, scores, 0.49).tolist())

# 3. float32 rounding: IoU 3/10 is stored as 0.30000001 > 0.3 (torchvision compares the
#    float32 IoU with the float64 threshold), while in float64 it is exactly 0.3
pair = torch.tensor([[0.0, 0.0, 5.0, 1.0], [2.0, 0.0, 10.0, 1.0]])  # IoU = 3 / 10
print(f"float32 IoU = {box_iou(pair[:1], pair[1:]).item():.10f}")
print("threshold 0.3, float32:", nms(pair, scores, 0.3).tolist())
print("threshold 0.3, float64:", nms(pair.double(), scores.double(), 0.3).tolist())
