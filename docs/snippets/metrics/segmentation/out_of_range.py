import torch

from knowledge.metrics import confusion_matrix

# An ADE20K-style annotation: 0 = "other" (not a class), 1..150 = the 150 classes
raw = torch.tensor([[0, 1, 1, 150], [0, 7, 7, 150]], dtype=torch.uint8)
pred = torch.tensor([[3, 0, 0, 149], [5, 6, 6, 149]])  # the model predicts 0..149

try:
    confusion_matrix(pred, raw, num_classes=150)
except ValueError as err:
    print("ValueError:", err)

# mmseg's reduce_zero_label: 0 becomes 255 (ignored), every other label moves down by one
target = raw.long() - 1
target[(raw == 0) | (raw == 255)] = 255
print("reduced target:", target.tolist())

cm = confusion_matrix(pred, target, num_classes=150)
print("pixels counted:", int(cm.sum()), " correct:", int(cm.trace()))
