import torch

from knowledge.metrics import SegmentationMetric

torch.manual_seed(0)
target = torch.randint(0, 4, (6, 16, 16))
pred = torch.where(torch.rand(6, 16, 16) < 0.8, target, torch.randint(0, 4, (6, 16, 16)))
pred[4:] = 3  # the images on the second worker are predicted badly

# Two workers, each evaluating its own shard of the validation set
worker0, worker1 = SegmentationMetric(num_classes=4), SegmentationMetric(num_classes=4)
worker0.update(pred[:4], target[:4])
worker1.update(pred[4:], target[4:])

merged = worker0 + worker1  # a new metric; worker0.merge(worker1) adds in place
single = SegmentationMetric(num_classes=4)
single.update(pred, target)  # one process seeing all six images

print("same confusion matrix:", torch.equal(merged.confusion_matrix, single.confusion_matrix))
print(f"merged mIoU:             {merged.compute()['mIoU']:.4f}")
print(f"single-process mIoU:     {single.compute()['mIoU']:.4f}")
mean_of_workers = (worker0.compute()["mIoU"] + worker1.compute()["mIoU"]) / 2
print(f"mean of the two workers: {mean_of_workers:.4f}  (wrong)")
