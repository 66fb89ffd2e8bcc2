import torch

from knowledge.metrics import (
    accuracy_per_class,
    confusion_matrix,
    iou_per_class,
    mean_iou,
    mean_pixel_accuracy,
    pixel_accuracy,
)

# 0 = sky, 1 = tree, 2 = road; one 4x4 image
target = torch.tensor([[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 2], [2, 2, 2, 2]])
pred = torch.tensor([[0, 0, 0, 0], [0, 1, 1, 1], [0, 0, 1, 2], [2, 2, 1, 2]])

cm = confusion_matrix(pred, target, num_classes=3)  # rows: truth, columns: prediction
print("confusion matrix:")
print(cm)

tp = cm.diagonal()
fn = cm.sum(dim=1) - tp  # rest of the row
fp = cm.sum(dim=0) - tp  # rest of the column
print("TP:", tp.tolist(), " FP:", fp.tolist(), " FN:", fn.tolist())

print("IoU per class:", [round(v, 4) for v in iou_per_class(cm).tolist()])
print("Acc per class:", [round(v, 4) for v in accuracy_per_class(cm).tolist()])
print(f"PA   = {pixel_accuracy(cm):.4f}")
print(f"MPA  = {mean_pixel_accuracy(cm):.4f}")
print(f"mIoU = {mean_iou(cm):.4f}")
