"""Tests for knowledge.detection.faster_rcnn.

Oracles: torchvision's ``RPNHead``, ``TwoMLPHead`` and ``FastRCNNPredictor`` (same
parameter names, so the same state dict loads into both), and an independent inference
pipeline assembled in this file from torchvision's pure-Python pieces
(``AnchorGenerator``, ``concat_box_prediction_layers``, ``BoxCoder``,
``clip_boxes_to_image``, ``remove_small_boxes``, the eager ``roi_align``) with the
plain-Python ``reference_nms`` in place of torchvision's compiled NMS; it follows
torchvision's ``RegionProposalNetwork.filter_proposals`` and
``RoIHeads.postprocess_detections``.
"""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F
from oracles import reference_nms, torchvision_or_skip

from knowledge.detection import (
    FastRCNNPredictor,
    RPNHead,
    TinyFasterRCNN,
    TraceStep,
    TwoMLPHead,
)


def test_rpn_head_matches_torchvision():
    torchvision_or_skip()
    from torchvision.models.detection.rpn import RPNHead as TVRPNHead

    torch.manual_seed(0)
    theirs = TVRPNHead(8, 6, conv_depth=2)
    ours = RPNHead(8, 6, conv_depth=2)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    feats = [torch.randn(2, 8, 5, 7), torch.randn(2, 8, 3, 4)]
    for a, b in zip(ours(feats), theirs(feats), strict=True):
        for x, y in zip(a, b, strict=True):
            torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_rpn_head_init():
    torch.manual_seed(1)
    head = RPNHead(64, 9)
    for conv in (head.conv[0][0], head.cls_logits, head.bbox_pred):
        assert conv.weight.std().item() == pytest.approx(0.01, rel=0.1)
        assert torch.count_nonzero(conv.bias) == 0


def test_box_head_and_predictor_match_torchvision():
    torchvision_or_skip()
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor as TVPredictor
    from torchvision.models.detection.faster_rcnn import TwoMLPHead as TVTwoMLPHead

    torch.manual_seed(2)
    head, predictor = TVTwoMLPHead(4 * 3 * 3, 16), TVPredictor(16, 5)
    ours_head, ours_predictor = TwoMLPHead(4 * 3 * 3, 16), FastRCNNPredictor(16, 5)
    ours_head.load_state_dict(head.state_dict())
    ours_predictor.load_state_dict(predictor.state_dict())
    x = torch.randn(10, 4, 3, 3)
    hidden = ours_head(x)
    torch.testing.assert_close(hidden, head(x), rtol=0, atol=0)
    for a, b in zip(ours_predictor(hidden), predictor(hidden), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def torchvision_pipeline(model: TinyFasterRCNN, images: torch.Tensor) -> list[dict]:
    """The same inference, rebuilt from torchvision's pure-Python parts and reference_nms."""
    from torchvision.models.detection._utils import BoxCoder as TVBoxCoder
    from torchvision.models.detection.anchor_utils import AnchorGenerator as TVAnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor as TVPredictor
    from torchvision.models.detection.faster_rcnn import TwoMLPHead as TVTwoMLPHead
    from torchvision.models.detection.image_list import ImageList
    from torchvision.models.detection.rpn import RPNHead as TVRPNHead
    from torchvision.models.detection.rpn import concat_box_prediction_layers
    from torchvision.ops import boxes as box_ops

    tv_roi_align = sys.modules["torchvision.ops.roi_align"]._roi_align.__wrapped__
    dtype = images.dtype
    size = tuple(images.shape[-2:])
    b = images.shape[0]
    features = model.backbone(images)  # plain convolutions, shared
    anchors = TVAnchorGenerator(
        (model.anchor_generator.sizes[0],), (model.anchor_generator.aspect_ratios[0],)
    )(ImageList(images, [size] * b), [features])
    rpn_head = TVRPNHead(features.shape[1], 9).to(dtype)
    rpn_head.load_state_dict(model.rpn_head.state_dict())
    logits, deltas = rpn_head([features])
    objectness, deltas = concat_box_prediction_layers(logits, deltas)  # (B*HWA, 1), (B*HWA, 4)
    decoded = TVBoxCoder((1.0, 1.0, 1.0, 1.0)).decode(deltas, anchors).reshape(b, -1, 4)
    objectness = objectness.reshape(b, -1)
    proposals = []
    for i in range(b):
        top = objectness[i].topk(model.rpn_pre_nms_top_n).indices
        boxes = box_ops.clip_boxes_to_image(decoded[i, top], size)
        scores = torch.sigmoid(objectness[i, top])
        keep = box_ops.remove_small_boxes(boxes, model.min_size)
        boxes, scores = boxes[keep], scores[keep]
        keep = reference_nms(boxes, scores, model.rpn_nms_thresh)[: model.rpn_post_nms_top_n]
        proposals.append(boxes[keep])

    rois = torch.cat(
        [
            torch.cat([torch.full((len(p), 1), i, dtype=dtype), p], 1)
            for i, p in enumerate(proposals)
        ]
    )
    pooled = tv_roi_align(features, rois, 1 / model.stride, 7, 7, 2, False)
    box_head = TVTwoMLPHead(pooled[0].numel(), model.box_head.fc6.out_features).to(dtype)
    box_head.load_state_dict(model.box_head.state_dict())
    num_classes = model.box_predictor.cls_score.out_features
    predictor = TVPredictor(box_head.fc7.out_features, num_classes).to(dtype)
    predictor.load_state_dict(model.box_predictor.state_dict())
    class_logits, box_regression = predictor(box_head(pooled))
    pred_boxes = TVBoxCoder((10.0, 10.0, 5.0, 5.0)).decode(box_regression, proposals)
    pred_scores = F.softmax(class_logits, -1)
    results = []
    counts = [len(p) for p in proposals]
    for boxes, scores in zip(pred_boxes.split(counts), pred_scores.split(counts), strict=True):
        boxes = box_ops.clip_boxes_to_image(boxes, size)
        labels = torch.arange(num_classes).view(1, -1).expand_as(scores)
        boxes, scores, labels = (
            boxes[:, 1:].reshape(-1, 4),
            scores[:, 1:].reshape(-1),
            labels[:, 1:].reshape(-1),
        )
        keep = torch.where(scores > model.box_score_thresh)[0]
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        keep = box_ops.remove_small_boxes(boxes, 1e-2)
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        kept = []  # per-class NMS, merged by decreasing score
        for c in labels.unique().tolist():
            members = torch.where(labels == c)[0]
            kept += members[
                reference_nms(boxes[members], scores[members], model.box_nms_thresh)
            ].tolist()
        kept.sort(key=lambda j: (-scores[j].item(), j))
        keep = torch.tensor(kept[: model.detections_per_img], dtype=torch.int64)
        results.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
    return results


@pytest.mark.parametrize(("num_classes", "shape"), [(3, (2, 3, 64, 80)), (5, (1, 3, 96, 72))])
def test_tiny_faster_rcnn_matches_a_torchvision_pipeline(num_classes, shape):
    torchvision_or_skip()
    torch.manual_seed(3)
    model = TinyFasterRCNN(num_classes, rpn_pre_nms_top_n=150, rpn_post_nms_top_n=40).double()
    gen = torch.Generator().manual_seed(4)
    images = torch.rand(shape, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        ours = model(images)
        expected = torchvision_pipeline(model, images)
    for a, e in zip(ours, expected, strict=True):
        assert a["labels"].tolist() == e["labels"].tolist()
        torch.testing.assert_close(a["scores"], e["scores"], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(a["boxes"], e["boxes"], rtol=1e-10, atol=1e-10)
        assert len(a["boxes"]) == model.detections_per_img  # enough candidates survive


def test_trace_shapes_follow_the_configuration():
    torch.manual_seed(5)
    model = TinyFasterRCNN(4, channels=16, rpn_pre_nms_top_n=100, rpn_post_nms_top_n=30)
    trace: list[TraceStep] = []
    with torch.no_grad():
        out = model(torch.rand(2, 3, 64, 48), trace=trace)
    steps = dict(trace)
    # stride 8: 8 x 6 locations, 3 sizes x 3 ratios = 9 anchors each
    assert steps["backbone features (stride 8)"] == "(2, 16, 8, 6)"
    assert steps["anchors per image"] == "[(432, 4), (432, 4)]"
    assert steps["rpn objectness logits"] == "(2, 9, 8, 6)"
    assert steps["rpn box deltas"] == "(2, 36, 8, 6)"
    assert steps["top-n decoded boxes"] == "[(100, 4), (100, 4)]"
    n_props = sum(
        int(s.split(",")[0].strip("[( ")) for s in steps["proposals after nms"].split("), (")
    )
    assert steps["roi_align, all images"] == f"({n_props}, 16, 7, 7)"
    assert steps["per-class box deltas"] == f"({n_props}, 16)"  # 4 classes x 4
    assert len(out) == 2 and all(set(d) == {"boxes", "scores", "labels"} for d in out)
    for d in out:
        assert torch.all(d["scores"][:-1] >= d["scores"][1:])
        assert d["labels"].min() >= 1 and d["labels"].max() < 4  # no background
        assert torch.all(d["boxes"] >= 0) and torch.all(d["boxes"][:, 2] <= 48)


def test_same_seed_same_detections():
    images = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(6))
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        with torch.no_grad():
            runs.append(TinyFasterRCNN(3)(images)[0])
    for key in ("boxes", "scores", "labels"):
        assert torch.equal(runs[0][key], runs[1][key])


def test_errors():
    model = TinyFasterRCNN(3)
    with pytest.raises(
        ValueError, match=r"images must have shape \(B, 3, H, W\), got \(1, 1, 32, 32\)"
    ):
        model(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="at least 8 pixels"):
        model(torch.zeros(1, 3, 4, 32))
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        TinyFasterRCNN(1)
    with pytest.raises(ValueError, match="num_anchors must be an int >= 1"):
        RPNHead(8, 0)
