"""Tests for knowledge.blocks.ppm (PPM and PSPHead).

Oracles: each branch recomputed from torch's functional ops (adaptive_avg_pool2d, conv2d,
batch_norm, relu, interpolate) with the branch's weights; a plain-Python adaptive average
pool; parameter counts worked by hand from the PSPNet layer sizes.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from knowledge.blocks import PPM, PSPHead
from knowledge.registry import MODELS


def randomize_norms(module: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics and affine parameters, so that eval mode is not identity."""
    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen))
            m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            with torch.no_grad():
                m.weight.copy_(torch.randn(c, generator=gen))
                m.bias.copy_(torch.randn(c, generator=gen))


def branch_oracle(x, stage, scale, align_corners):
    """One PPM branch from functional ops, using only the branch's weights and buffers."""
    conv, bn = stage.conv, stage.norm
    y = F.adaptive_avg_pool2d(x, scale)
    y = F.conv2d(y, conv.weight)  # 1x1, no bias
    y = F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
    y = F.relu(y)
    return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=align_corners)


@pytest.mark.parametrize(
    "hw", [(1, 1), (2, 3), (5, 5), (6, 6), (7, 4), (13, 17), (33, 33), (64, 48)]
)
def test_output_shape(hw):
    torch.manual_seed(0)
    ppm = PPM(8, 3, pool_scales=(1, 2, 3, 6))
    x = torch.randn(2, 8, *hw)
    assert ppm.out_channels == 8 + 4 * 3
    assert ppm.train()(x).shape == (2, 20, *hw)  # batch 2: BN trains on 1x1 maps
    assert ppm.eval()(x[:1]).shape == (1, 20, *hw)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("hw", [(2, 3), (6, 6), (13, 17), (32, 24)])
def test_every_branch_matches_functional_ops(hw, align_corners):
    torch.manual_seed(1)
    scales = (1, 2, 3, 6)
    ppm = PPM(6, 4, pool_scales=scales, align_corners=align_corners).eval()
    randomize_norms(ppm)
    x = torch.randn(2, 6, *hw)
    out = ppm(x)
    torch.testing.assert_close(out[:, :6], x, rtol=0, atol=0)  # the input comes first
    for i, (scale, stage) in enumerate(zip(scales, ppm.stages, strict=True)):
        expected = branch_oracle(x, stage, scale, align_corners)
        got = out[:, 6 + 4 * i : 6 + 4 * (i + 1)]
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_branches_differ_and_scale_one_is_constant():
    torch.manual_seed(2)
    ppm = PPM(4, 2, pool_scales=(1, 6)).eval()
    randomize_norms(ppm)
    out = ppm(torch.randn(1, 4, 12, 12))
    glob, fine = out[:, 4:6], out[:, 6:8]
    assert torch.all(glob == glob[..., :1, :1])  # a 1x1 map upsampled: one value per channel
    assert fine.flatten(2).std(dim=2).max() > 0  # the 6x6 branch keeps a layout


def test_adaptive_bins_match_plain_python():
    """Bin i of n over L covers [floor(i L / n), ceil((i + 1) L / n)): bins may overlap."""

    def pool_1d(values, n):
        out = []
        length = len(values)
        for i in range(n):
            lo, hi = (i * length) // n, -((-(i + 1) * length) // n)
            out.append(sum(values[lo:hi]) / (hi - lo))
        return out

    def pool_2d(rows, n):
        cols = [pool_1d(list(col), n) for col in zip(*rows, strict=True)]  # along H
        return [pool_1d(list(row), n) for row in zip(*cols, strict=True)]  # along W

    torch.manual_seed(3)
    x = torch.randn(13, 7, dtype=torch.float64)
    ppm = PPM(1, 1, pool_scales=(1, 2, 3, 6))
    for scale, stage in zip(ppm.pool_scales, ppm.stages, strict=True):
        got = stage.pool(x[None, None])[0, 0]
        torch.testing.assert_close(got, torch.tensor(pool_2d(x.tolist(), scale)).double())


def test_parameter_count_of_the_pspnet_ppm():
    # PSPNet on ResNet: C = 2048, C' = 512, four branches of conv 1x1 (no bias) + BN.
    # Per branch: 2048 * 512 weights + 2 * 512 (BN gamma, beta) = 1,049,600; times 4.
    expected = 4 * (2048 * 512 + 2 * 512)
    assert expected == 4_198_400
    with torch.device("meta"):
        ppm = PPM(2048, 512)
    assert sum(p.numel() for p in ppm.parameters()) == expected
    assert ppm.out_channels == 2048 + 4 * 512 == 4096
    with torch.device("meta"):
        no_norm = PPM(2048, 512, norm_layer=None)
    # Without a norm the conv has a bias: 2048 * 512 + 512 per branch.
    assert sum(p.numel() for p in no_norm.parameters()) == 4 * (2048 * 512 + 512)


def test_parameter_count_of_the_psphead():
    k = 19  # Cityscapes
    ppm = 4 * (2048 * 512 + 2 * 512)
    bottleneck = (2048 + 4 * 512) * 512 * 3 * 3 + 2 * 512  # 3x3 conv 4096 -> 512, no bias; BN
    classifier = 512 * k + k  # 1x1 conv with bias
    assert ppm + bottleneck + classifier == 4_198_400 + 18_875_392 + 9_747 == 23_083_539
    with torch.device("meta"):
        head = PSPHead(2048, 512, k)
    assert sum(p.numel() for p in head.parameters()) == ppm + bottleneck + classifier


def test_psphead_matches_its_layers_composed_by_hand():
    torch.manual_seed(4)
    head = PSPHead(8, 4, 3, pool_scales=(1, 3)).eval()
    randomize_norms(head)
    x = torch.randn(2, 8, 7, 9)
    ppm = head.psp_modules
    cat = torch.cat(
        [x, *(branch_oracle(x, s, n, False) for s, n in zip(ppm.stages, (1, 3), strict=True))],
        dim=1,
    )
    b = head.bottleneck
    y = F.conv2d(cat, b.conv.weight, padding=1)
    y = F.batch_norm(y, b.norm.running_mean, b.norm.running_var, b.norm.weight, b.norm.bias)
    y = F.conv2d(F.relu(y), head.conv_seg.weight, head.conv_seg.bias)  # dropout: eval mode
    torch.testing.assert_close(head(x), y, rtol=1e-5, atol=1e-5)
    assert isinstance(head.dropout, nn.Dropout2d) and head.dropout.p == 0.1
    assert isinstance(PSPHead(8, 4, 3, dropout_ratio=0.0).dropout, nn.Identity)


def test_batch_one_in_training_mode_fails_with_bn_but_not_with_gn():
    torch.manual_seed(5)
    x = torch.randn(1, 32, 9, 9)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel"):
        PPM(32, 8).train()(x)  # the scale-1 branch: BN sees (1, 8, 1, 1)
    assert PPM(32, 8, pool_scales=(2, 3)).train()(x).shape == (1, 48, 9, 9)  # 4 values each
    gn = PPM(32, 8, norm_layer=dict(type="GN", num_groups=4)).train()
    assert gn(x).shape == (1, 64, 9, 9)
    assert all(isinstance(s.norm, nn.GroupNorm) for s in gn.stages)


def test_norm_layer_options():
    sync = PPM(8, 4, norm_layer=dict(type="SyncBN"))
    assert {type(s.norm).__name__ for s in sync.stages} == {"SyncBatchNorm"}
    none = PPM(8, 4, norm_layer=None)
    assert all("norm" not in dict(s.named_children()) for s in none.stages)
    assert all(s.conv.bias is not None for s in none.stages)
    assert all(s.conv.bias is None for s in PPM(8, 4).stages)


def test_built_from_config_like_the_constructor():
    cfg = dict(type="PSPHead", in_channels=16, channels=4, num_classes=5, pool_scales=[1, 2])
    head = MODELS.build(cfg)
    ref = PSPHead(16, 4, 5, pool_scales=(1, 2))
    assert type(head) is PSPHead
    shapes = {k: v.shape for k, v in head.state_dict().items()}
    assert shapes == {k: v.shape for k, v in ref.state_dict().items()}
    assert head.psp_modules.pool_scales == (1, 2)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(in_channels=0, channels=4), ValueError, "in_channels must be >= 1, got 0"),
        (dict(in_channels=8, channels=2.0), TypeError, "channels must be an int"),
        (dict(in_channels=8, channels=4, pool_scales=()), ValueError, "must not be empty"),
        (dict(in_channels=8, channels=4, pool_scales=6), TypeError, "sequence of ints"),
        (dict(in_channels=8, channels=4, pool_scales=(1, 0)), ValueError, r"ints >= 1"),
        (dict(in_channels=8, channels=4, norm_layer="BN"), TypeError, "norm_layer must be"),
    ],
)
def test_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        PPM(**kwargs)


def test_forward_and_head_errors():
    ppm = PPM(8, 4).eval()
    with pytest.raises(
        ValueError, match=r"expects input of shape \(B, 8, H, W\), got \(1, 3, 5, 5\)"
    ):
        ppm(torch.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match=r"got \(8, 5, 5\)"):
        ppm(torch.randn(8, 5, 5))
    with pytest.raises(ValueError, match="dropout_ratio must be in"):
        PSPHead(8, 4, 3, dropout_ratio=1.0)
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        PSPHead(8, 4, 0)


def test_gradients_reach_every_parameter():
    torch.manual_seed(6)
    head = PSPHead(8, 4, 3, pool_scales=(1, 2, 3, 6)).train()
    head(torch.randn(2, 8, 11, 11)).square().mean().backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and math.isfinite(float(p.grad.abs().sum())), name
