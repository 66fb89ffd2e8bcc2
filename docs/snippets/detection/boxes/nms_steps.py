import torch

from knowledge.detection import box_iou, nms

boxes = torch.tensor(
    [
        [10.0, 10.0, 50.0, 50.0],
        [12.0, 8.0, 52.0, 48.0],
        [30.0, 30.0, 70.0, 70.0],
        [60.0, 10.0, 90.0, 40.0],
        [11.0, 12.0, 49.0, 52.0],
        [62.0, 12.0, 92.0, 42.0],
    ]
)
scores = torch.tensor([0.90, 0.85, 0.60, 0.75, 0.80, 0.70])
threshold = 0.5

# The greedy loop, written out: visit by score, compare with the boxes kept so far
iou = box_iou(boxes, boxes)
kept = []
for i in sorted(range(len(scores)), key=lambda j: -scores[j].item()):
    worst = max(kept, key=lambda k: iou[k, i].item(), default=None)
    if worst is not None and iou[worst, i] > threshold:
        why = f"suppressed by box {worst}, IoU {iou[worst, i]:.3f}"
        print(f"box {i} (score {scores[i]:.2f}): {why}")
    else:
        kept.append(i)
        print(f"box {i} (score {scores[i]:.2f}): kept")

print("by hand:", kept)
print("nms    :", nms(boxes, scores, threshold).tolist())
