"""Tests for knowledge.detection.anchors.

Oracles: torchvision's ``AnchorGenerator`` (``models.detection.anchor_utils``) on an
``ImageList`` and its ``BoxCoder`` (``models.detection._utils``), both pure Python; the
parametrization written out by hand.
"""

from __future__ import annotations

import math

import pytest
import torch
from oracles import torchvision_or_skip

from knowledge.detection import AnchorGenerator, BoxCoder


def random_boxes(n: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=gen, dtype=torch.float64) * 200
    wh = torch.rand(n, 2, generator=gen, dtype=torch.float64) * 100 + 1
    return torch.cat([xy, xy + wh], dim=1).to(dtype)


# --------------------------------------------------------------------------------------
# BoxCoder
# --------------------------------------------------------------------------------------

WEIGHTS = [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0), (2.0, 3.0, 0.5, 7.0)]


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_encode_matches_torchvision(weights, dtype):
    torchvision_or_skip()
    from torchvision.models.detection._utils import BoxCoder as TVBoxCoder

    boxes, anchors = random_boxes(64, 0, dtype), random_boxes(64, 1, dtype)
    expected = TVBoxCoder(weights).encode_single(boxes, anchors)  # (reference=gt, proposals)
    torch.testing.assert_close(BoxCoder(weights).encode(boxes, anchors), expected, rtol=0, atol=0)


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("num_sets", [1, 3])
def test_decode_matches_torchvision(weights, num_sets):
    torchvision_or_skip()
    from torchvision.models.detection._utils import BoxCoder as TVBoxCoder

    anchors = random_boxes(50, 2, torch.float32)
    gen = torch.Generator().manual_seed(3)
    deltas = torch.randn(50, 4 * num_sets, generator=gen) * 3
    deltas[0, 2] = 80.0  # clamped at log(1000/16) * w_w before exp
    ours = BoxCoder(weights).decode(deltas, anchors)
    expected = TVBoxCoder(weights).decode_single(deltas, anchors)  # (N, 4K)
    assert ours.shape == deltas.shape
    torch.testing.assert_close(ours, expected, rtol=0, atol=0)
    assert torch.isfinite(ours).all()


@pytest.mark.parametrize("weights", WEIGHTS)
def test_encode_decode_round_trip(weights):
    boxes, anchors = random_boxes(100, 4), random_boxes(100, 5)
    coder = BoxCoder(weights)
    deltas = coder.encode(boxes, anchors)
    assert (deltas[:, 2:] / torch.tensor(weights[2:], dtype=deltas.dtype)).max() < math.log(62.5)
    torch.testing.assert_close(coder.decode(deltas, anchors), boxes, rtol=1e-12, atol=1e-10)


def test_box_coder_by_hand():
    # anchor centre (5, 10), 10 x 20; box centre (6, 12), 20 x 10.
    # t_x = 10 * 1 / 10 = 1, t_y = 10 * 2 / 20 = 1, t_w = 5 log 2, t_h = 5 log 0.5.
    coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
    anchors = torch.tensor([[0.0, 0.0, 10.0, 20.0]], dtype=torch.float64)
    boxes = torch.tensor([[-4.0, 7.0, 16.0, 17.0]], dtype=torch.float64)
    expected = [[1.0, 1.0, 5 * math.log(2), 5 * math.log(0.5)]]
    torch.testing.assert_close(coder.encode(boxes, anchors).tolist(), expected)


def test_decode_clamps_log_size():
    # t_w = 100 would be e^100 times wider; the clamp caps the factor at 1000/16 = 62.5.
    coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
    out = coder.decode(torch.tensor([[0.0, 0.0, 100.0, -100.0]]), torch.tensor([[0.0, 0, 2, 2]]))
    width, height = (out[0, 2] - out[0, 0]).item(), (out[0, 3] - out[0, 1]).item()
    assert width == pytest.approx(2 * 62.5)
    assert height == pytest.approx(2 * math.exp(-100))  # no lower clamp


def test_box_coder_errors():
    with pytest.raises(ValueError, match="weights must be four numbers"):
        BoxCoder((1.0, 1.0))
    with pytest.raises(ValueError, match="must be a finite number > 0"):
        BoxCoder((1.0, 1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="bbox_xform_clip"):
        BoxCoder((1.0, 1.0, 1.0, 1.0), bbox_xform_clip=-1.0)
    coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match=r"deltas must have shape \(N, 4 \* K\)"):
        coder.decode(torch.zeros(3, 5), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="3 rows of deltas but 2 anchors"):
        coder.decode(torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="must match"):
        coder.encode(torch.zeros(3, 4), torch.zeros(2, 4))


# --------------------------------------------------------------------------------------
# AnchorGenerator
# --------------------------------------------------------------------------------------

GENERATOR_CASES = [
    (((32, 64, 128),), ((0.5, 1.0, 2.0),), (1, 3, 64, 96), [(8, 12)]),
    (((128, 256, 512),), ((0.5, 1.0, 2.0),), (2, 3, 800, 1088), [(50, 68)]),
    (((16,), (32,), (64,)), ((0.5, 1.0, 2.0),) * 3, (2, 3, 100, 75), [(25, 19), (13, 10), (7, 5)]),
    (((24, 40),), ((0.3, 1.0, 1.7, 4.0),), (1, 3, 37, 41), [(5, 6)]),  # odd strides and sizes
]


@pytest.mark.parametrize(("sizes", "ratios", "image_shape", "grids"), GENERATOR_CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_anchor_generator_matches_torchvision(sizes, ratios, image_shape, grids, dtype):
    torchvision_or_skip()
    from torchvision.models.detection.anchor_utils import AnchorGenerator as TVAnchorGenerator
    from torchvision.models.detection.image_list import ImageList

    images = torch.zeros(image_shape, dtype=dtype)
    feats = [torch.zeros(image_shape[0], 4, h, w, dtype=dtype) for h, w in grids]
    image_list = ImageList(images, [tuple(image_shape[-2:])] * image_shape[0])
    expected = TVAnchorGenerator(sizes, ratios)(image_list, feats)
    ours = AnchorGenerator(sizes, ratios)
    per_location = [len(s) * len(r) for s, r in zip(sizes, ratios, strict=True)]
    assert ours.num_anchors_per_location() == per_location
    got = ours(images, feats)
    assert len(got) == len(expected) == image_shape[0]
    for a, e in zip(got, expected, strict=True):
        assert a.dtype == e.dtype
        assert torch.equal(a, e)


def test_cell_anchors_by_hand():
    # size 32, ratio 0.5 (h / w): w = 32 / sqrt(0.5) = 45.25, h = 22.63; halves 22.63 and
    # 11.31 round to 23 and 11. Ratio 2 swaps them. Area stays close to 32^2.
    gen = AnchorGenerator(((32,),), ((0.5, 1.0, 2.0),))
    assert gen.cell_anchors[0].tolist() == [
        [-23.0, -11.0, 23.0, 11.0],
        [-16.0, -16.0, 16.0, 16.0],
        [-11.0, -23.0, 11.0, 23.0],
    ]


def test_anchor_order_is_location_major():
    # image 32 x 32, map 2 x 2 -> stride 16; 2 anchors per location (sizes 8, 16; ratio 1).
    gen = AnchorGenerator(((8, 16),), ((1.0,),))
    anchors = gen(torch.zeros(1, 3, 32, 32), [torch.zeros(1, 1, 2, 2)])[0]
    centres = ((anchors[:, :2] + anchors[:, 2:]) / 2).tolist()
    assert centres == [[0, 0], [0, 0], [16, 0], [16, 0], [0, 16], [0, 16], [16, 16], [16, 16]]
    assert (anchors[:, 2] - anchors[:, 0]).tolist() == [8, 16] * 4


def test_anchor_generator_errors():
    with pytest.raises(TypeError, match=r"one non-empty tuple per feature map, such as"):
        AnchorGenerator(sizes=(32, 64, 128))
    with pytest.raises(ValueError, match="sizes has 2 feature maps but aspect_ratios has 1"):
        AnchorGenerator(sizes=((32,), (64,)), aspect_ratios=((1.0,),))
    with pytest.raises(ValueError, match="must be a finite number > 0"):
        AnchorGenerator(sizes=((32,),), aspect_ratios=((0.0,),))
    gen = AnchorGenerator(((32,),), ((1.0,),))
    with pytest.raises(ValueError, match="got 2 feature maps but sizes/aspect_ratios describe 1"):
        gen(torch.zeros(1, 3, 8, 8), [torch.zeros(1, 1, 2, 2)] * 2)
    with pytest.raises(ValueError, match=r"images must have shape \(B, C, H, W\)"):
        gen(torch.zeros(3, 8, 8), [torch.zeros(1, 1, 2, 2)])
