"""Tests for knowledge.models.fpn against independent oracles.

Oracles: ``torchvision.ops.FeaturePyramidNetwork`` with ``LastLevelMaxPool`` (test-only),
loaded with our weights through a name mapping written here; a plain-Python nearest
upsampling; torch's ``F.conv2d``.
"""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from oracles import torchvision_or_skip
from torch import nn

from knowledge.models import FPN
from knowledge.registry import MODELS


def to_torchvision_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """lateral_convs.i.conv -> inner_blocks.i.0, fpn_convs.i.norm -> layer_blocks.i.1, ..."""
    renamed = {}
    for key, value in state.items():
        block, i, layer, param = key.split(".", 3)
        tv_block = {"lateral_convs": "inner_blocks", "fpn_convs": "layer_blocks"}[block]
        renamed[f"{tv_block}.{i}.{ {'conv': 0, 'norm': 1}[layer] }.{param}"] = value
    return renamed


def pyramid(sizes, channels, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(2, c, h, w, generator=gen) for c, (h, w) in zip(channels, sizes, strict=True)
    ]


# ResNet-like pyramids, including odd sizes where a stride-2 layer rounds up
SIZES = [
    [(32, 32), (16, 16), (8, 8), (4, 4)],
    [(25, 19), (13, 10), (7, 5), (4, 3)],
    [(50, 38), (25, 19), (13, 10), (7, 5)],
    [(9, 16), (5, 8), (3, 4), (2, 2)],
    [(7, 7), (4, 4), (2, 2), (1, 1)],
]


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("with_norm", [False, True])
def test_equals_torchvision_fpn(sizes, with_norm):
    tv = torchvision_or_skip()
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    channels = [8, 16, 24, 32]
    torch.manual_seed(0)
    norm = nn.BatchNorm2d if with_norm else None
    ours = FPN(channels, 12, norm_layer=norm).eval()
    ref = tv.ops.FeaturePyramidNetwork(
        channels, 12, extra_blocks=LastLevelMaxPool(), norm_layer=norm
    ).eval()
    if with_norm:
        for m in ours.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2)
                m.weight.data.normal_()
                m.bias.data.normal_()
    ref.load_state_dict(to_torchvision_names(ours.state_dict()), strict=True)
    feats = pyramid(sizes, channels)
    with torch.no_grad():
        got = ours(feats)
        expected = ref(OrderedDict((f"c{i + 2}", f) for i, f in enumerate(feats)))
        named = ours(OrderedDict((f"c{i + 2}", f) for i, f in enumerate(feats)))
    assert list(expected) == ["c2", "c3", "c4", "c5", "pool"] == list(named)
    assert len(got) == 5
    for a, b, c in zip(got, expected.values(), named.values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        torch.testing.assert_close(c, b, rtol=0, atol=0)
    top = sizes[-1]
    assert got[-1].shape[-2:] == ((top[0] + 1) // 2, (top[1] + 1) // 2)


def test_same_parameters_and_init_as_torchvision():
    tv = torchvision_or_skip()
    ours, ref = (
        FPN([256, 512, 1024, 2048], 256),
        tv.ops.FeaturePyramidNetwork([256, 512, 1024, 2048], 256),
    )
    mapped = to_torchvision_names(ours.state_dict())
    assert {k: v.shape for k, v in mapped.items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }
    # ResNet-50 FPN: 1x1 laterals (256 + 512 + 1024 + 2048) * 256 + 4 * 256,
    # 3x3 outputs 4 * (9 * 256^2 + 256)
    expected = 3840 * 256 + 4 * 256 + 4 * (9 * 256 * 256 + 256)
    assert sum(p.numel() for p in ours.parameters()) == expected == 3_344_384
    assert sum(p.numel() for p in ref.parameters()) == expected
    # Kaiming uniform with a=1: bound = sqrt(6 / ((1 + a^2) fan_in)) = sqrt(3 / fan_in)
    w = ours.fpn_convs[0].conv.weight
    assert w.abs().max() <= (3 / (256 * 9)) ** 0.5 and torch.all(ours.fpn_convs[0].conv.bias == 0)


def nearest_plain(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest upsampling by the integer formula floor(d * in / out)."""
    h_in, w_in = x.shape[-2:]
    rows = [(i * h_in) // size[0] for i in range(size[0])]
    cols = [(j * w_in) // size[1] for j in range(size[1])]
    return x[..., rows, :][..., :, cols]


def test_top_down_pathway_by_hand():
    torch.manual_seed(1)
    fpn = FPN([3, 5, 7], 4, extra_max_pool=False).eval()
    feats = pyramid([(11, 9), (6, 5), (3, 3)], [3, 5, 7], seed=1)

    def conv(seq, x):
        return F.conv2d(x, seq.conv.weight, seq.conv.bias, padding=seq.conv.padding)

    m5 = conv(fpn.lateral_convs[2], feats[2])
    m4 = conv(fpn.lateral_convs[1], feats[1]) + nearest_plain(m5, (6, 5))
    m3 = conv(fpn.lateral_convs[0], feats[0]) + nearest_plain(m4, (11, 9))
    expected = [conv(fpn.fpn_convs[i], m) for i, m in enumerate((m3, m4, m5))]
    with torch.no_grad():
        got = fpn(feats)
    assert len(got) == 3
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b)


def test_registry_and_errors():
    fpn = MODELS.build(dict(type="FPN", in_channels_list=[4, 8], out_channels=2))
    assert isinstance(fpn, FPN) and fpn.extra_max_pool
    with pytest.raises(ValueError, match="in_channels_list must not be empty"):
        FPN([], 4)
    with pytest.raises(TypeError, match=r"in_channels_list\[1\]"):
        FPN([4, 8.0], 4)
    with pytest.raises(ValueError, match="out_channels"):
        FPN([4, 8], 0)
    with pytest.raises(ValueError, match=r"channels \[4, 8\]"):
        fpn([torch.zeros(1, 4, 8, 8), torch.zeros(1, 7, 4, 4)])
    with pytest.raises(ValueError, match="2 maps"):
        fpn([torch.zeros(1, 4, 8, 8)])
