"""Tests for knowledge.models.upernet against independent oracles.

Oracles: a reference written here from mmseg's ``UPerHead.forward`` (its statement order:
PPM branches as a list and ``torch.cat``, laterals, in-place top-down sums, FPN convs,
resizes, fusion) with functional ops (``F.conv2d``, ``F.batch_norm``,
``F.adaptive_avg_pool2d``, ``F.interpolate``) on the module's weights; published parameter
counts of mmseg's Swin-T UPerNet and of the Swin-T backbone.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from knowledge.models import UPerHead
from knowledge.registry import MODELS


def randomize_norms(module: nn.Module, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen))
            m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            with torch.no_grad():
                m.weight.copy_(torch.randn(c, generator=gen))
                m.bias.copy_(torch.randn(c, generator=gen))


def conv_module(seq, x):
    """mmcv ConvModule: conv (no bias), BN in eval mode, ReLU."""
    bn = seq.norm
    y = F.conv2d(x, seq.conv.weight, seq.conv.bias, padding=seq.conv.padding)
    y = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
    return F.relu(y)


def mmseg_uper_forward(head: UPerHead, inputs, align_corners):
    """mmseg's UPerHead.forward, statement by statement."""

    def resize(x, size):
        return F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners)

    def psp_forward(x):
        psp_outs = [x]
        for scale, stage in zip(head.psp_modules.pool_scales, head.psp_modules.stages, strict=True):
            pooled = F.adaptive_avg_pool2d(x, scale)
            psp_outs.append(resize(conv_module(stage, pooled), x.shape[2:]))
        return conv_module(head.bottleneck, torch.cat(psp_outs, dim=1))

    laterals = [conv_module(conv, inputs[i]) for i, conv in enumerate(head.lateral_convs)]
    laterals.append(psp_forward(inputs[-1]))
    used_backbone_levels = len(laterals)
    for i in range(used_backbone_levels - 1, 0, -1):
        prev_shape = laterals[i - 1].shape[2:]
        laterals[i - 1] += resize(laterals[i], prev_shape)
    fpn_outs = [
        conv_module(head.fpn_convs[i], laterals[i]) for i in range(used_backbone_levels - 1)
    ]
    fpn_outs.append(laterals[-1])
    for i in range(used_backbone_levels - 1, 0, -1):
        fpn_outs[i] = resize(fpn_outs[i], fpn_outs[0].shape[2:])
    output = conv_module(head.fpn_bottleneck, torch.cat(fpn_outs, dim=1))
    return F.conv2d(output, head.conv_seg.weight, head.conv_seg.bias)


def swin_pyramid(h, w, channels, seed=0):
    """Maps of a stride-4 backbone: sizes ceil(h / 4), then halved with rounding up."""
    gen = torch.Generator().manual_seed(seed)
    sizes = [(-(-h // 4), -(-w // 4))]
    for _ in channels[1:]:
        sizes.append((-(-sizes[-1][0] // 2), -(-sizes[-1][1] // 2)))
    return [torch.randn(2, c, *s, generator=gen) for c, s in zip(channels, sizes, strict=True)]


@pytest.mark.parametrize("hw", [(64, 64), (100, 75), (97, 130), (20, 36)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_matches_mmseg_forward(hw, align_corners):
    torch.manual_seed(0)
    channels = (6, 12, 24, 48)
    head = UPerHead(channels, 16, 7, pool_scales=(1, 2, 3, 6), align_corners=align_corners).eval()
    randomize_norms(head)
    feats = swin_pyramid(*hw, channels)
    with torch.no_grad():
        got = head(feats)
        expected = mmseg_uper_forward(head, feats, align_corners)
    assert got.shape == (2, 7, *feats[0].shape[-2:])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_in_index_picks_levels():
    torch.manual_seed(1)
    head = UPerHead((12, 24), 8, 3, in_index=(1, 3)).eval()
    feats = [torch.randn(1, c, 32 // 2**i, 32 // 2**i) for i, c in enumerate((6, 12, 18, 24))]
    with torch.no_grad():
        expected = mmseg_uper_forward(head, [feats[1], feats[3]], False)
        torch.testing.assert_close(head(feats), expected)


def test_parameter_count_matches_mmseg_swin_t_upernet():
    with torch.device("meta"):
        head = UPerHead((96, 192, 384, 768), 512, 150, pool_scales=(1, 2, 3, 6))
    n = sum(p.numel() for p in head.parameters())
    # Published: mmseg's Swin-T UPerNet without the auxiliary head has 59,018,064 parameters,
    # the Swin-T backbone (with its 4 output LayerNorms) 27,520,698.
    assert n == 59_018_064 - 27_520_698
    # By hand (conv without bias + BN's 2 per channel; classifier with bias):
    ppm = 4 * (768 * 512 + 2 * 512)
    bottleneck = 9 * (768 + 4 * 512) * 512 + 2 * 512
    laterals = (96 + 192 + 384) * 512 + 3 * 2 * 512
    fpn_convs = 3 * (9 * 512 * 512 + 2 * 512)
    fpn_bottleneck = 9 * 4 * 512 * 512 + 2 * 512
    conv_seg = 512 * 150 + 150
    assert n == ppm + bottleneck + laterals + fpn_convs + fpn_bottleneck + conv_seg
    children = [name for name, _ in head.named_children()]
    assert children == [
        "psp_modules", "bottleneck", "lateral_convs", "fpn_convs", "fpn_bottleneck",
        "dropout", "conv_seg",
    ]  # fmt: skip
    assert len(head.lateral_convs) == len(head.fpn_convs) == 3  # none on the top level


def test_registry_build_with_norm_config():
    head = MODELS.build(
        dict(
            type="UPerHead", in_channels=(4, 8, 16, 32), channels=8, num_classes=5,
            norm_layer=dict(type="GN", num_groups=2),
        )
    )  # fmt: skip
    assert isinstance(head.fpn_bottleneck.norm, nn.GroupNorm)
    feats = [torch.randn(1, c, 16 // 2**i, 16 // 2**i) for i, c in enumerate((4, 8, 16, 32))]
    assert head(feats).shape == (1, 5, 16, 16)


def test_errors():
    with pytest.raises(ValueError, match="in_channels must list"):
        UPerHead((), 8, 3)
    with pytest.raises(TypeError, match=r"in_channels\[1\]"):
        UPerHead((4, "8"), 8, 3)
    with pytest.raises(ValueError, match="in_index"):
        UPerHead((4, 8), 8, 3, in_index=(0, 1, 2))
    head = UPerHead((4, 8), 8, 3)
    with pytest.raises(ValueError, match=r"level 1 \(in_index 1\) must have shape \(B, 8, H, W\)"):
        head([torch.zeros(1, 4, 8, 8), torch.zeros(1, 9, 4, 4)])
    with pytest.raises(TypeError, match="list of feature maps"):
        head(torch.zeros(1, 4, 8, 8))
