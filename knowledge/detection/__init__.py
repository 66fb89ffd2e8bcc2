"""Detection: boxes and NMS, box coding and anchors, RoI ops, and a tiny Faster R-CNN.

Everything here is public through ``knowledge.detection``.
"""

from knowledge.detection.anchors import AnchorGenerator, BoxCoder
from knowledge.detection.boxes import (
    batched_nms,
    box_area,
    box_iou,
    clip_boxes_to_image,
    nms,
    remove_small_boxes,
)
from knowledge.detection.faster_rcnn import (
    FastRCNNPredictor,
    RPNHead,
    TinyFasterRCNN,
    TraceStep,
    TwoMLPHead,
)
from knowledge.detection.roi_ops import roi_align, roi_pool

__all__: list[str] = [
    "AnchorGenerator",
    "BoxCoder",
    "FastRCNNPredictor",
    "RPNHead",
    "TinyFasterRCNN",
    "TraceStep",
    "TwoMLPHead",
    "batched_nms",
    "box_area",
    "box_iou",
    "clip_boxes_to_image",
    "nms",
    "remove_small_boxes",
    "roi_align",
    "roi_pool",
]
