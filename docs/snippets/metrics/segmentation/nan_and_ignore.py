import math

import torch

from knowledge.metrics import SegmentationMetric

# 4 classes: 0 road, 1 car, 2 bus, 3 bicycle; 255 marks pixels nobody labelled
target = torch.tensor([[0, 0, 0, 1], [0, 0, 1, 1], [255, 255, 255, 255]])
pred = torch.tensor([[0, 0, 2, 1], [0, 0, 1, 1], [3, 3, 3, 3]])

metric = SegmentationMetric(num_classes=4, ignore_index=255)
metric.update(pred, target)
result = metric.compute()
cm = metric.confusion_matrix

print("confusion matrix (bicycle predictions on 255 pixels are not counted):")
print(cm)
print("IoU :", result["IoU"])  # bus: predicted, never true -> 0; bicycle: nowhere -> nan
print("Acc :", result["Acc"])  # bus and bicycle are never true -> nan
kept_iou = sum(not math.isnan(v) for v in result["IoU"])
kept_acc = sum(not math.isnan(v) for v in result["Acc"])
print(f"mIoU = {result['mIoU']:.4f}  (mean over {kept_iou} classes)")
print(f"mAcc = {result['mAcc']:.4f}  (mean over {kept_acc} classes)")
print(f"aAcc = {result['aAcc']:.4f}  ({int(cm.trace())} of {int(cm.sum())} labelled pixels)")
