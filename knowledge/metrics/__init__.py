"""Evaluation metrics for semantic segmentation (confusion matrix, PA, MPA, IoU, mIoU)."""

from knowledge.metrics.segmentation import (
    SegmentationMetric,
    accuracy_per_class,
    confusion_matrix,
    iou_per_class,
    mean_iou,
    mean_pixel_accuracy,
    pixel_accuracy,
)

__all__ = [
    "SegmentationMetric",
    "accuracy_per_class",
    "confusion_matrix",
    "iou_per_class",
    "mean_iou",
    "mean_pixel_accuracy",
    "pixel_accuracy",
]
