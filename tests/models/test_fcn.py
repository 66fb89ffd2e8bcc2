"""Tests for knowledge.models.fcn against independent oracles.

Oracles: ``F.interpolate`` (bilinear upsampling), FCN's ``upsample_filt`` formula written
out here, values worked by hand, the paper's formulation (transposed convolutions without
padding, then crops with explicit offsets) written with functional ops, torchvision's VGG-16
(test-only oracle) for the convolutionalized ``fc6``/``fc7``, and published parameter counts.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from oracles import torchvision_or_skip
from torch import nn

from knowledge.models import FCN, FCNHead, VGG16Backbone, bilinear_kernel
from knowledge.registry import MODELS

TINY = dict(widths=(4, 6, 8, 10, 12), fc_channels=16)


def upsample_filt(size: int) -> list[list[float]]:
    """FCN's surgery.upsample_filt, in plain Python (no torch)."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    row = [1 - abs(i - center) / factor for i in range(size)]
    return [[a * b for b in row] for a in row]


def transposed(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinear-initialised transposed conv: kernel 2f, stride f, padding f/2."""
    w = bilinear_kernel(x.shape[1], 2 * factor).to(x.dtype)
    return F.conv_transpose2d(x, w, stride=factor, padding=factor // 2)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 16, 64])
def test_bilinear_kernel_matches_fcn_formula(size):
    w = bilinear_kernel(3, size)
    expected = torch.tensor(upsample_filt(size))
    for c in range(3):
        torch.testing.assert_close(w[c, c], expected)
        for d in range(3):
            if d != c:
                assert torch.all(w[c, d] == 0)


def test_bilinear_kernel_worked_values():
    # kernel 4, factor 2, centre 1.5: 1 - |i - 1.5| / 2 = 1/4, 3/4, 3/4, 1/4
    torch.testing.assert_close(
        bilinear_kernel(1, 4)[0, 0, 1], torch.tensor([1, 3, 3, 1]) * 0.75 / 4
    )
    # kernel 3, factor 2, centre 1: 1/2, 1, 1/2 (outer product)
    row = torch.tensor([0.5, 1.0, 0.5])
    torch.testing.assert_close(bilinear_kernel(1, 3)[0, 0], torch.outer(row, row))
    # kernel 16, factor 8, centre 7.5: (2i + 1) / 16 for i < 8, then mirrored
    half = torch.tensor([(2 * i + 1) / 16 for i in range(8)])
    torch.testing.assert_close(
        bilinear_kernel(1, 16)[0, 0, 7], half[7] * torch.cat([half, half.flip(0)])
    )


@pytest.mark.parametrize("factor", [2, 4, 8, 16, 32])
@pytest.mark.parametrize("hw", [(5, 5), (4, 7), (1, 3)])
def test_transposed_conv_equals_interpolate_in_the_interior(factor, hw):
    torch.manual_seed(factor)
    x = torch.rand(2, 3, *hw, dtype=torch.float64) + 0.5
    up = transposed(x, factor)
    ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    assert up.shape == ref.shape == (2, 3, hw[0] * factor, hw[1] * factor)
    b = factor // 2  # border: the first and last f/2 rows and columns
    torch.testing.assert_close(up[..., b:-b, b:-b], ref[..., b:-b, b:-b], rtol=1e-12, atol=1e-12)
    # the border differs: zeros beyond the edge (transposed conv) vs edge replication
    assert (up[..., :b, :] - ref[..., :b, :]).abs().min() > 1e-3
    assert (up[..., :, -b:] - ref[..., :, -b:]).abs().min() > 1e-3
    if factor >= 4 and min(hw) >= 2:  # align_corners=True is a different grid
        corners = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=True)
        assert (up[..., b:-b, b:-b] - corners[..., b:-b, b:-b]).abs().max() > 1e-3


def test_border_of_a_constant_map_worked_by_hand():
    # f = 2 on ones: an edge output pixel gets weight 3/4 from the edge pixel and 1/4 from
    # the zero beyond it, so 0.75; a corner gets 0.75 * 0.75 = 0.5625; inside, 1.
    up = transposed(torch.ones(1, 1, 3, 3, dtype=torch.float64), 2)[0, 0]
    assert up[0, 0] == 0.5625 and up[0, 2] == 0.75 and up[2, 0] == 0.75
    assert torch.all(up[1:-1, 1:-1] == 1)
    ref = F.interpolate(torch.ones(1, 1, 3, 3), scale_factor=2, mode="bilinear")
    assert torch.all(ref == 1)  # F.interpolate replicates the edge


def paper_fcn8s(net: FCN, x: torch.Tensor) -> torch.Tensor:
    """FCN-8s the paper's way: deconvolutions without padding, then explicit crops."""

    def up_crop(score, weight, factor, size):
        full = F.conv_transpose2d(score, weight, stride=factor)  # (n + 1) f, no padding
        off = factor // 2  # the crop that centres the kernel, as Caffe's offset does
        return full[..., off : off + size[0], off : off + size[1]]

    h = x
    feats = []
    for stage in net.backbone.stages:
        for m in stage:
            if isinstance(m, nn.Conv2d):
                h = F.relu(F.conv2d(h, m.weight, m.bias, padding=1))
        h = F.max_pool2d(h, 2, 2, ceil_mode=True)
        feats.append(h)
    bb = net.backbone
    h = F.relu(F.conv2d(h, bb.fc6.weight, bb.fc6.bias, padding=3))
    h = F.relu(F.conv2d(h, bb.fc7.weight, bb.fc7.bias))
    score = F.conv2d(h, net.score_fr.weight, net.score_fr.bias)
    p4, p3 = feats[3], feats[2]
    score = up_crop(score, net.upscore2.weight, 2, p4.shape[-2:]) + F.conv2d(
        p4, net.score_pool4.weight, net.score_pool4.bias
    )
    score = up_crop(score, net.upscore_pool4.weight, 2, p3.shape[-2:]) + F.conv2d(
        p3, net.score_pool3.weight, net.score_pool3.bias
    )
    return up_crop(score, net.upscore.weight, 8, x.shape[-2:])


@pytest.mark.parametrize("hw", [(64, 64), (37, 53), (100, 75), (17, 9)])
def test_fcn8s_matches_the_paper_formulation(hw):
    torch.manual_seed(0)
    net = FCN(5, variant="8s", **TINY).eval()
    with torch.no_grad():  # non-zero skips, learned (non-bilinear) 2x upsamplers
        for m in (net.score_pool4, net.score_pool3, net.upscore2, net.upscore_pool4):
            m.weight.normal_(0, 0.3)
    x = torch.randn(2, 3, *hw)
    with torch.no_grad():
        torch.testing.assert_close(net(x), paper_fcn8s(net, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
@pytest.mark.parametrize("hw", [(1, 1), (31, 33), (97, 64), (65, 127)])
def test_output_shapes_and_ceil_sizes(variant, hw):
    net = FCN(3, variant=variant, **TINY).eval()
    x = torch.randn(1, 3, *hw)
    with torch.no_grad():
        pool3, pool4, fc7 = net.backbone(x)
        assert net(x).shape == (1, 3, *hw)
    for f, stride in ((pool3, 8), (pool4, 16), (fc7, 32)):
        assert f.shape[-2:] == tuple(math.ceil(s / stride) for s in hw)


def test_skips_start_at_zero_and_final_upsampling_is_fixed():
    net = FCN(4, variant="8s", **TINY)
    for conv in (net.score_pool4, net.score_pool3):
        assert torch.all(conv.weight == 0) and torch.all(conv.bias == 0)
    assert not net.upscore.weight.requires_grad
    assert net.upscore2.weight.requires_grad and net.upscore_pool4.weight.requires_grad
    assert net.upscore.kernel_size == (16, 16) and net.upscore.stride == (8, 8)
    assert FCN(4, variant="32s", **TINY).upscore.kernel_size == (64, 64)
    assert not hasattr(FCN(4, variant="32s", **TINY), "score_pool4")
    assert not hasattr(FCN(4, variant="16s", **TINY), "score_pool3")


def test_skip_changes_the_output_only_when_nonzero():
    torch.manual_seed(3)
    net = FCN(3, variant="16s", **TINY).eval()
    x = torch.randn(1, 3, 40, 40)
    with torch.no_grad():
        before = net(x)
        net.score_pool4.bias.fill_(1.0)  # +1 at stride 16, then upsampled by 16x bilinear
        after = net(x)
    # the interior of a bilinear 16x upsampling of a constant is that constant
    torch.testing.assert_close((after - before)[..., 8:-8, 8:-8], torch.ones(1, 3, 24, 24))


def test_vgg16_parameter_count_matches_torchvision_published():
    # torchvision's vgg16 has 138,357,544 parameters; fc8 is 4096 * 1000 + 1000 of them.
    with torch.device("meta"):
        backbone = VGG16Backbone()
    assert sum(p.numel() for p in backbone.parameters()) == 138_357_544 - (4096 * 1000 + 1000)


def test_convolutionalized_fc_layers_equal_torchvision_vgg16():
    tv = torchvision_or_skip()
    with torch.device("meta"):  # no memory and no initialisation until we fill the weights
        ref, ours = tv.models.vgg16(), VGG16Backbone()
    ref.to_empty(device="cpu").eval()
    ours.eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(0, (2.0 / p[0].numel()) ** 0.5, generator=gen)
    # Our parameters become views of torchvision's: the same numbers, no copy
    tv_convs = [m for m in ref.features if isinstance(m, nn.Conv2d)]
    our_convs = [m for stage in ours.stages for m in stage if isinstance(m, nn.Conv2d)]
    for a, b in zip(tv_convs, our_convs, strict=True):
        b.weight, b.bias = a.weight, a.bias
    # fully connected -> convolution: the same matrix, reshaped
    ours.fc6.weight = nn.Parameter(ref.classifier[0].weight.view(4096, 512, 7, 7))
    ours.fc6.bias = ref.classifier[0].bias
    ours.fc7.weight = nn.Parameter(ref.classifier[3].weight.view(4096, 4096, 1, 1))
    ours.fc7.bias = ref.classifier[3].bias
    assert all(p.device.type == "cpu" for p in ours.parameters())
    with torch.no_grad():
        # the conv stack: same pool5 (torchvision floors, we round up: equal on even sizes)
        x = torch.randn(1, 3, 64, 64, generator=gen)
        pool5 = x
        for stage in ours.stages:
            pool5 = stage(pool5)
        torch.testing.assert_close(pool5, ref.features(x))
        # fc6/fc7 as convolutions on a 7x7 pool5 (a 224x224 image): the centre output sees
        # exactly the 7x7 window, i.e. the fully connected layers' input
        pool5 = torch.randn(1, 512, 7, 7, generator=gen).relu()
        fc7_ref = ref.classifier[:5](torch.flatten(ref.avgpool(pool5), 1))  # (1, 4096)
        fc7 = ours.relu7(ours.fc7(ours.relu6(ours.fc6(pool5))))  # (1, 4096, 7, 7)
    assert fc7.shape == (1, 4096, 7, 7)
    torch.testing.assert_close(fc7[:, :, 3, 3], fc7_ref, rtol=1e-4, atol=1e-4)


def fcn_head_oracle(head: FCNHead, x: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    """mmseg's FCNHead with plain functional ops; ``dilation`` applies to ``convs`` only."""

    def block(seq, t, d=1):
        bn = seq.norm
        k = seq.conv.kernel_size[0]
        t = F.conv2d(t, seq.conv.weight, None, padding=k // 2 * d, dilation=d)
        t = F.batch_norm(t, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0, bn.eps)
        return F.relu(t)

    y = x
    for seq in head.convs:
        y = block(seq, y, dilation)
    if head.concat_input:
        y = block(head.conv_cat, torch.cat([x, y], dim=1))
    return F.conv2d(y, head.conv_seg.weight, head.conv_seg.bias)


@pytest.mark.parametrize(
    ("num_convs", "concat_input", "kernel_size"), [(1, False, 3), (2, True, 3), (2, True, 1)]
)
def test_fcn_head_matches_functional_ops(num_convs, concat_input, kernel_size):
    torch.manual_seed(4)
    head = FCNHead(
        6, 5, 3, num_convs=num_convs, concat_input=concat_input, kernel_size=kernel_size
    ).eval()
    for m in head.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2)
    feats = [torch.randn(2, 4, 18, 14), torch.randn(2, 6, 9, 7)]
    with torch.no_grad():
        torch.testing.assert_close(head(feats), fcn_head_oracle(head, feats[-1]))
        torch.testing.assert_close(head(feats[-1]), head(feats))  # a bare tensor works too


@pytest.mark.parametrize("dilation", [2, 6])
def test_dilated_fcn_head_matches_functional_ops(dilation):
    torch.manual_seed(5)
    head = FCNHead(6, 5, 3, num_convs=2, concat_input=True, dilation=dilation).eval()
    x = torch.randn(1, 6, 20, 17)
    with torch.no_grad():
        out = head(x)
        torch.testing.assert_close(out, fcn_head_oracle(head, x, dilation))
    assert out.shape == (1, 3, 20, 17)  # dilation keeps the resolution
    assert head.conv_cat.conv.dilation == (1, 1)  # as in mmseg, the fusion is not dilated


def test_dilation_widens_the_receptive_field():
    # Two 3x3 convs see a 5x5 window; with dilation d each spans 2d + 1 taps, so 4d + 1 in all.
    for d, reach in ((1, 2), (3, 6)):
        head = FCNHead(1, 2, 2, num_convs=2, concat_input=False, dilation=d, norm_layer=None)
        head.eval()
        with torch.no_grad():  # positive weights and inputs: every ReLU passes its gradient
            for p in head.parameters():
                p.copy_(torch.rand_like(p) + 0.1)
        x = torch.rand(1, 1, 25, 25).add(0.1).requires_grad_()
        head(x)[0, 0, 12, 12].backward()
        rows, cols = torch.nonzero(x.grad[0, 0], as_tuple=True)
        assert (int(rows.min()), int(rows.max())) == (12 - reach, 12 + reach)
        assert (int(cols.min()), int(cols.max())) == (12 - reach, 12 + reach)
    with pytest.raises(ValueError, match="dilation must be an int >= 1, got 0"):
        FCNHead(4, 4, 2, dilation=0)


def test_aux_head_parameter_count_and_registry():
    cfg = dict(
        type="FCNHead", in_channels=384, in_index=2, channels=256, num_convs=1,
        concat_input=False, dropout_ratio=0.1, num_classes=150, norm_layer=dict(type="SyncBN"),
    )  # fmt: skip
    with torch.device("meta"):
        aux = MODELS.build(cfg)
    # 3x3 conv 384 -> 256 without bias, BN (gamma, beta), 1x1 classifier with bias
    assert sum(p.numel() for p in aux.parameters()) == 384 * 256 * 9 + 2 * 256 + 256 * 150 + 150
    assert sum(p.numel() for p in aux.parameters()) == 923_798  # mmseg: 59,941,862 - 59,018,064
    assert MODELS.get("FCN") is FCN and MODELS.get("VGG16Backbone") is VGG16Backbone


def test_fcn_head_num_convs_zero_and_default_concat():
    head = FCNHead(8, 8, 2, num_convs=0, concat_input=False).eval()
    x = torch.randn(1, 8, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(head(x), F.conv2d(x, head.conv_seg.weight, head.conv_seg.bias))
    assert FCNHead(8, 4, 2).conv_cat.conv.in_channels == 12


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="variant"):
        FCN(3, variant="4s")
    with pytest.raises(TypeError, match="num_classes"):
        FCN(3.0)
    with pytest.raises(ValueError, match="widths"):
        VGG16Backbone(widths=(64, 128))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        FCN(3, **TINY)(torch.randn(1, 4, 32, 32))
    with pytest.raises(ValueError, match="num_convs=0"):
        FCNHead(8, 4, 2, num_convs=0)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        FCNHead(8, 4, 2, kernel_size=2)
    with pytest.raises(ValueError, match="in_index=2"):
        FCNHead(8, 4, 2, in_index=2)([torch.zeros(1, 8, 4, 4)] * 2 + [torch.zeros(1, 3, 4, 4)])
    with pytest.raises(ValueError, match="dropout_ratio"):
        FCNHead(8, 4, 2, dropout_ratio=1.0)
