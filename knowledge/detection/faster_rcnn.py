r"""A tiny two-stage detector assembled from this chapter's pieces, for the data flow.

Faster R-CNN (Ren et al., 2015) detects in two stages:

1. The **region proposal network** (RPN) slides a small head over the backbone's feature
   map. At each location it scores $A$ anchors as object / not object and regresses
   deltas for each; decoded, clipped and thinned by NMS, the best anchors become
   *proposals*.
2. The **RoI head** cuts a fixed-size feature out of the map for every proposal with
   RoI Align, classifies it into $K$ classes (index 0 is background) and regresses
   per-class deltas relative to the proposal; after per-class NMS these are the
   detections.

[`TinyFasterRCNN`][knowledge.detection.TinyFasterRCNN] follows torchvision's inference
path step by step (``RegionProposalNetwork.filter_proposals`` and
``RoIHeads.postprocess_detections``) with a three-layer backbone and random weights: it
shows the shapes, not a trained detector.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from knowledge.detection.anchors import AnchorGenerator, BoxCoder
from knowledge.detection.boxes import (
    batched_nms,
    clip_boxes_to_image,
    nms,
    remove_small_boxes,
)
from knowledge.detection.roi_ops import roi_align

__all__ = ["FastRCNNPredictor", "RPNHead", "TinyFasterRCNN", "TraceStep", "TwoMLPHead"]


class TraceStep(NamedTuple):
    """One row of a [`TinyFasterRCNN`][knowledge.detection.TinyFasterRCNN] shape trace."""

    stage: str
    shape: str


def _shape_text(x: Tensor | list[Tensor]) -> str:
    if isinstance(x, Tensor):
        return str(tuple(x.shape))
    return "[" + ", ".join(str(tuple(t.shape)) for t in x) + "]"  # one entry per image


class RPNHead(nn.Module):
    r"""RPN head: a shared 3x3 conv, then 1x1 convs for objectness and box deltas.

    The layout and parameter names are torchvision's (``conv.0.0``, ``cls_logits``,
    ``bbox_pred``), so its state dicts load directly. Weights start as
    $\mathcal{N}(0, 0.01^2)$ and biases at 0, as in the paper.

    Args:
        in_channels: channels C of the feature maps.
        num_anchors: anchors A per location.
        conv_depth: number of 3x3 conv + ReLU layers before the two outputs.

    Examples:
        >>> head = RPNHead(16, 9)
        >>> logits, deltas = head([torch.zeros(2, 16, 5, 7)])
        >>> tuple(logits[0].shape), tuple(deltas[0].shape)  # A scores, 4A deltas per location
        ((2, 9, 5, 7), (2, 36, 5, 7))
    """

    def __init__(self, in_channels: int, num_anchors: int, *, conv_depth: int = 1) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_anchors", num_anchors)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        self.conv = nn.Sequential(
            *(
                nn.Sequential(nn.Conv2d(in_channels, in_channels, 3, padding=1), nn.ReLU(True))
                for _ in range(conv_depth)
            )
        )
        self.cls_logits = nn.Conv2d(in_channels, num_anchors, kernel_size=1)
        self.bbox_pred = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=1)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.normal_(layer.weight, std=0.01)
                nn.init.zeros_(layer.bias)

    def forward(self, features: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """Objectness logits (B, A, H, W) and deltas (B, 4A, H, W) for each feature map."""
        logits, deltas = [], []
        for x in features:
            t = self.conv(x)
            logits.append(self.cls_logits(t))
            deltas.append(self.bbox_pred(t))
        return logits, deltas


class TwoMLPHead(nn.Module):
    """Box head: flatten each RoI feature and apply two fully connected layers with ReLU.

    Args:
        in_channels: C * P_h * P_w of the pooled features.
        representation_size: width of both layers (1024 in torchvision).
    """

    def __init__(self, in_channels: int, representation_size: int) -> None:
        super().__init__()
        self.fc6 = nn.Linear(in_channels, representation_size)
        self.fc7 = nn.Linear(representation_size, representation_size)

    def forward(self, x: Tensor) -> Tensor:
        """(R, C, P_h, P_w) pooled RoIs -> (R, representation_size)."""
        x = x.flatten(start_dim=1)  # (R, C, P_h, P_w) -> (R, C * P_h * P_w)
        return F.relu(self.fc7(F.relu(self.fc6(x))))


class FastRCNNPredictor(nn.Module):
    """Class scores (K, background included) and per-class box deltas (4K) for each RoI.

    Args:
        in_channels: width of the box head's output.
        num_classes: K, with class 0 the background.
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes)
        self.bbox_pred = nn.Linear(in_channels, num_classes * 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(R, D) -> logits (R, K) and deltas (R, 4K)."""
        return self.cls_score(x), self.bbox_pred(x)


class TinyFasterRCNN(nn.Module):
    r"""A small Faster R-CNN for inference: backbone, anchors, RPN, RoI Align, box head.

    The backbone is three stride-2 3x3 convs (stride 8 in all). Everything after it follows
    torchvision's inference path with one feature level:

    * RPN: keep the ``rpn_pre_nms_top_n`` highest objectness logits per image, decode their
      deltas with weights (1, 1, 1, 1), clip to the image, drop boxes smaller than
      ``min_size``, score with the sigmoid, [`nms`][knowledge.detection.nms] at
      ``rpn_nms_thresh``, keep ``rpn_post_nms_top_n`` proposals;
    * RoI head: [`roi_align`][knowledge.detection.roi_align] to 7x7 with sampling ratio 2,
      two FC layers, class softmax and per-class deltas decoded with weights
      (10, 10, 5, 5); drop the background column, scores $\le$ ``box_score_thresh`` and
      boxes smaller than 0.01, then [`batched_nms`][knowledge.detection.batched_nms] per
      class and keep ``detections_per_img``.

    Args:
        num_classes: K, including the background class 0.
        in_channels: image channels.
        channels: backbone output channels C.
        anchor_sizes: anchor sizes in pixels at each location.
        aspect_ratios: anchor ratios $h / w$ at each location.
        rpn_pre_nms_top_n: anchors per image kept before the RPN's NMS.
        rpn_post_nms_top_n: proposals per image kept after it.
        rpn_nms_thresh: IoU threshold of the RPN's NMS.
        representation_size: width of the box head.
        box_score_thresh: minimum class probability of a detection.
        box_nms_thresh: IoU threshold of the per-class NMS.
        detections_per_img: maximum detections per image.
        min_size: smallest proposal side kept, in pixels.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> model = TinyFasterRCNN(num_classes=3).eval()
        >>> trace = []
        >>> detections = model(torch.rand(2, 3, 64, 64), trace=trace)
        >>> sorted(detections[0])
        ['boxes', 'labels', 'scores']
        >>> trace[2]  # 8 x 8 locations x 9 anchors
        TraceStep(stage='anchors per image', shape='[(576, 4), (576, 4)]')
    """

    stride = 8

    def __init__(
        self,
        num_classes: int = 3,
        *,
        in_channels: int = 3,
        channels: int = 32,
        anchor_sizes: tuple[float, ...] = (16, 32, 64),
        aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0),
        rpn_pre_nms_top_n: int = 300,
        rpn_post_nms_top_n: int = 50,
        rpn_nms_thresh: float = 0.7,
        representation_size: int = 128,
        box_score_thresh: float = 0.05,
        box_nms_thresh: float = 0.5,
        detections_per_img: int = 20,
        min_size: float = 1e-3,
    ) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                f"num_classes must be an int >= 2 (background + 1), got {num_classes!r}"
            )
        self.in_channels = in_channels
        self.backbone = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, channels, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
        )
        self.anchor_generator = AnchorGenerator((anchor_sizes,), (aspect_ratios,))
        num_anchors = self.anchor_generator.num_anchors_per_location()[0]
        self.rpn_head = RPNHead(channels, num_anchors)
        self.rpn_coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
        self.box_coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
        self.roi_size = 7
        self.box_head = TwoMLPHead(channels * self.roi_size**2, representation_size)
        self.box_predictor = FastRCNNPredictor(representation_size, num_classes)
        self.rpn_pre_nms_top_n = rpn_pre_nms_top_n
        self.rpn_post_nms_top_n = rpn_post_nms_top_n
        self.rpn_nms_thresh = rpn_nms_thresh
        self.box_score_thresh = box_score_thresh
        self.box_nms_thresh = box_nms_thresh
        self.detections_per_img = detections_per_img
        self.min_size = min_size

    def propose(
        self, images: Tensor, features: Tensor, trace: list[TraceStep] | None = None
    ) -> list[Tensor]:
        """RPN: anchors, objectness and deltas -> up to ``rpn_post_nms_top_n`` boxes per image.

        Args:
            images: batch of shape (B, C, H, W); its size sets the strides and the clipping.
            features: backbone output of shape (B, C_f, H_f, W_f).
            trace: if given, receives one [`TraceStep`][knowledge.detection.TraceStep] per step.

        Returns:
            B tensors of proposals, each of shape (P_b, 4), by decreasing objectness.
        """
        log = trace.append if trace is not None else lambda step: None
        anchors = self.anchor_generator(images, [features])
        log(TraceStep("anchors per image", _shape_text(anchors)))
        logits, deltas = (t[0] for t in self.rpn_head([features]))
        log(TraceStep("rpn objectness logits", _shape_text(logits)))
        log(TraceStep("rpn box deltas", _shape_text(deltas)))
        b, a, h, w = logits.shape
        logits = logits.permute(0, 2, 3, 1).reshape(b, -1)  # (B, A, H, W) -> (B, H*W*A)
        deltas = deltas.reshape(b, a, 4, h, w).permute(0, 3, 4, 1, 2).reshape(b, -1, 4)
        log(TraceStep("flattened like the anchors", f"{_shape_text(logits)} {_shape_text(deltas)}"))
        size = tuple(images.shape[-2:])
        proposals, top_shapes = [], []
        for i in range(b):
            top = logits[i].topk(min(self.rpn_pre_nms_top_n, logits.shape[1])).indices
            boxes = self.rpn_coder.decode(deltas[i, top], anchors[i][top])
            top_shapes.append(boxes)
            boxes = clip_boxes_to_image(boxes, size)
            scores = torch.sigmoid(logits[i, top])
            keep = remove_small_boxes(boxes, self.min_size)
            boxes, scores = boxes[keep], scores[keep]
            keep = nms(boxes, scores, self.rpn_nms_thresh)[: self.rpn_post_nms_top_n]
            proposals.append(boxes[keep])
        log(TraceStep("top-n decoded boxes", _shape_text(top_shapes)))
        log(TraceStep("proposals after nms", _shape_text(proposals)))
        return proposals

    def forward(
        self, images: Tensor, *, trace: list[TraceStep] | None = None
    ) -> list[dict[str, Tensor]]:
        """Detections for a batch of images.

        Args:
            images: batch of shape (B, C, H, W).
            trace: if given, a list that receives one
                [`TraceStep`][knowledge.detection.TraceStep] per stage.

        Returns:
            One dict per image with ``boxes`` (D, 4), ``scores`` (D,) and ``labels`` (D,),
            sorted by decreasing score, labels in [1, K).

        Raises:
            ValueError: if ``images`` is not (B, in_channels, H, W) with H, W >= stride.
        """
        if (
            not isinstance(images, Tensor)
            or images.dim() != 4
            or images.shape[1] != self.in_channels
        ):
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"images must have shape (B, {self.in_channels}, H, W), got {shape}")
        if min(images.shape[-2:]) < self.stride:
            raise ValueError(f"images must be at least {self.stride} pixels high and wide")
        log = trace.append if trace is not None else lambda step: None
        log(TraceStep("images", _shape_text(images)))
        features = self.backbone(images)
        log(TraceStep("backbone features (stride 8)", _shape_text(features)))
        proposals = self.propose(images, features, trace)

        pooled = roi_align(
            features, proposals, self.roi_size, spatial_scale=1 / self.stride, sampling_ratio=2
        )
        log(TraceStep("roi_align, all images", _shape_text(pooled)))
        hidden = self.box_head(pooled)
        log(TraceStep("box head (fc6, fc7)", _shape_text(hidden)))
        class_logits, box_deltas = self.box_predictor(hidden)
        log(TraceStep("class logits", _shape_text(class_logits)))
        log(TraceStep("per-class box deltas", _shape_text(box_deltas)))

        num_classes = class_logits.shape[1]
        boxes_all = self.box_coder.decode(box_deltas, torch.cat(proposals))
        boxes_all = boxes_all.reshape(-1, num_classes, 4)  # (R, 4K) -> (R, K, 4)
        log(TraceStep("decoded boxes per class", _shape_text(boxes_all)))
        scores_all = F.softmax(class_logits, dim=-1)
        size = tuple(images.shape[-2:])
        results = []
        counts = [len(p) for p in proposals]
        for boxes, scores in zip(boxes_all.split(counts), scores_all.split(counts), strict=True):
            boxes = clip_boxes_to_image(boxes, size)
            labels = torch.arange(num_classes, device=scores.device).expand_as(scores)
            # drop the background column, then one candidate per (proposal, class)
            boxes, scores, labels = boxes[:, 1:].reshape(-1, 4), scores[:, 1:], labels[:, 1:]
            scores, labels = scores.reshape(-1), labels.reshape(-1)
            keep = torch.where(scores > self.box_score_thresh)[0]
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            keep = remove_small_boxes(boxes, 1e-2)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            keep = batched_nms(boxes, scores, labels, self.box_nms_thresh)
            keep = keep[: self.detections_per_img]
            results.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
        log(TraceStep("detections per image", _shape_text([r["boxes"] for r in results])))
        return results
