import torch

from knowledge.metrics import SegmentationMetric, confusion_matrix, iou_per_class, mean_iou

# Three 8x8 images; 0 = background, 1 = car, 2 = pole (a small, thin class)
target = torch.zeros(3, 8, 8, dtype=torch.long)
pred = torch.zeros(3, 8, 8, dtype=torch.long)
target[:, 4:, :5] = 1
pred[:, 4:, :5] = 1  # the car is found in every image
target[0, 1:7, 6] = 2
pred[0, 1:4, 6] = 2  # image 0: a far pole, half of it found
pred[1, 0, 7] = 2  # image 1: no pole at all, one stray pole pixel
target[2, :, 5:7] = 2
pred[2, 1:, 5:7] = 2  # image 2: a near pole, almost all found

per_image = []
for i in range(3):
    cm = confusion_matrix(pred[i], target[i], num_classes=3)
    per_image.append(mean_iou(cm).item())
    print(f"image {i}: IoU = {[round(v, 3) for v in iou_per_class(cm).tolist()]}")
print(f"mean of per-image mIoU: {sum(per_image) / 3:.4f}")

metric = SegmentationMetric(num_classes=3)
metric.update(pred, target)  # one confusion matrix for the whole set
result = metric.compute()
print(f"dataset IoU = {[round(v, 3) for v in result['IoU']]}")
print(f"dataset mIoU:           {result['mIoU']:.4f}")
