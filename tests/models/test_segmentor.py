"""Tests for knowledge.models.segmentor against independent oracles.

Oracles: published parameter counts of mmseg's Swin-T UPerNet (59,941,862 with the FCN
auxiliary head, 59,018,064 without) and of the Swin-T backbone; mmseg's ``slide_inference``
loop re-typed here (grid formula, shifted windows, ``F.pad`` of each crop, count matrix);
windows worked by hand; ``F.interpolate`` for the final resize.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from knowledge.models import (
    FPN,
    EncoderDecoder,
    FCNHead,
    SwinTransformer,
    UPerHead,
    slide_windows,
    swin_t_upernet_config,
    swin_t_upernet_parameter_counts,
)
from knowledge.registry import MODELS
from knowledge.training import SyncBatchNorm


def tiny_cfg(**test_cfg):
    """A small Swin + UPerNet + FCN auxiliary head, as an mmseg-style config."""
    cfg = dict(
        type="EncoderDecoder",
        backbone=dict(
            type="SwinTransformer", embed_dim=8, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2),
            window_size=4, drop_path_rate=0.0,
        ),
        decode_head=dict(
            type="UPerHead", in_channels=(8, 16, 32, 64), channels=8, num_classes=5,
            pool_scales=(1, 2), dropout_ratio=0.0,
        ),
        auxiliary_head=dict(
            type="FCNHead", in_channels=32, in_index=2, channels=8, num_convs=1,
            concat_input=False, num_classes=5,
        ),
    )  # fmt: skip
    if test_cfg:
        cfg["test_cfg"] = test_cfg
    return cfg


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return MODELS.build(tiny_cfg()).eval()


def mmseg_slide(model, inputs, crop, stride):
    """mmseg's EncoderDecoder.slide_inference, re-typed."""
    h_stride, w_stride = stride
    h_crop, w_crop = crop
    batch_size, _, h_img, w_img = inputs.size()
    out_channels = 5
    h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
    preds = inputs.new_zeros((batch_size, out_channels, h_img, w_img))
    count_mat = inputs.new_zeros((batch_size, 1, h_img, w_img))
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y1 = h_idx * h_stride
            x1 = w_idx * w_stride
            y2 = min(y1 + h_crop, h_img)
            x2 = min(x1 + w_crop, w_img)
            y1 = max(y2 - h_crop, 0)
            x1 = max(x2 - w_crop, 0)
            crop_img = inputs[:, :, y1:y2, x1:x2]
            crop_seg_logit = model.encode_decode(crop_img)
            preds += F.pad(
                crop_seg_logit,
                (int(x1), int(preds.shape[3] - x2), int(y1), int(preds.shape[2] - y2)),
            )
            count_mat[:, :, y1:y2, x1:x2] += 1
    assert (count_mat == 0).sum() == 0
    return preds / count_mat


def test_swin_t_upernet_parameter_counts_match_mmseg():
    counts = swin_t_upernet_parameter_counts(150)
    assert counts["total"] == 59_941_862  # mmseg, with the FCN auxiliary head
    assert counts["total_without_aux"] == 59_018_064  # mmseg, without it
    assert counts["backbone"] == 27_520_698  # Swin-T with 4 output LayerNorms
    assert counts["auxiliary_head"] == 59_941_862 - 59_018_064
    assert counts["backbone"] + counts["decode_head"] == 59_018_064
    assert swin_t_upernet_parameter_counts(150) == counts  # cached, and a fresh dict
    assert swin_t_upernet_parameter_counts(150) is not counts


def test_full_size_model_shapes_on_meta():
    cfg = swin_t_upernet_config()
    slide = dict(cfg, test_cfg=dict(mode="slide", crop_size=(512, 512), stride=(341, 341)))
    with torch.device("meta"):  # the real 60M-parameter model, shapes only
        whole_model, slide_model = MODELS.build(cfg).eval(), MODELS.build(slide).eval()
        x = torch.randn(1, 3, 512, 683)  # ADE20K after resizing: 2 windows
        assert whole_model.inference(x).shape == (1, 150, 512, 683)
        assert slide_model.inference(x).shape == (1, 150, 512, 683)
        assert [tuple(f.shape[1:]) for f in whole_model.extract_feat(x)] == [
            (96, 128, 171), (192, 64, 86), (384, 32, 43), (768, 16, 22),
        ]  # fmt: skip


def test_swin_t_upernet_config_mirrors_mmseg():
    cfg = swin_t_upernet_config()
    assert cfg["backbone"]["type"] == "SwinTransformer"
    assert cfg["backbone"]["drop_path_rate"] == 0.3
    assert cfg["decode_head"]["channels"] == 512 and cfg["decode_head"]["num_classes"] == 150
    aux = cfg["auxiliary_head"]
    assert (aux["in_channels"], aux["in_index"], aux["channels"], aux["num_convs"]) == (
        384, 2, 256, 1,
    )  # fmt: skip
    assert aux["concat_input"] is False
    assert "auxiliary_head" not in swin_t_upernet_config(19, auxiliary_head=False)
    assert swin_t_upernet_config(19)["decode_head"]["num_classes"] == 19


def test_config_builds_the_parts(tiny):
    assert isinstance(tiny.backbone, SwinTransformer)
    assert isinstance(tiny.decode_head, UPerHead) and isinstance(tiny.auxiliary_head, FCNHead)
    assert tiny.neck is None and tiny.test_cfg == {"mode": "whole"}
    cfg = tiny_cfg()
    cfg["decode_head"]["norm_layer"] = dict(type="SyncBN")  # passed through unbuilt
    model = MODELS.build(cfg)
    assert isinstance(model.decode_head.fpn_bottleneck.norm, SyncBatchNorm)
    # the config dict itself is not modified, and the class accepts dicts directly too
    assert cfg["backbone"]["type"] == "SwinTransformer"
    direct = EncoderDecoder(cfg["backbone"], cfg["decode_head"])
    assert isinstance(direct.backbone, SwinTransformer) and direct.auxiliary_head is None


def test_encode_decode_is_head_then_bilinear_resize(tiny):
    x = torch.randn(2, 3, 61, 47)
    with torch.no_grad():
        feats = tiny.backbone(x)
        expected = F.interpolate(
            tiny.decode_head(feats), size=(61, 47), mode="bilinear", align_corners=False
        )
        torch.testing.assert_close(tiny(x), expected)
        torch.testing.assert_close(tiny.inference(x), expected)
        out = tiny.forward_train(x)
        aux = F.interpolate(
            tiny.auxiliary_head(feats), size=(61, 47), mode="bilinear", align_corners=False
        )
    assert list(out) == ["decode", "aux"]
    torch.testing.assert_close(out["decode"], expected)
    torch.testing.assert_close(out["aux"], aux)


@pytest.mark.parametrize(
    ("hw", "crop", "stride"),
    [
        ((45, 70), (32, 32), (21, 21)),
        ((47, 33), (40, 24), (30, 16)),
        ((20, 70), (32, 32), (21, 21)),
    ],
)
def test_slide_equals_mmseg_loop(tiny, hw, crop, stride):
    torch.manual_seed(1)
    x = torch.randn(1, 3, *hw)
    with torch.no_grad():
        got = tiny.slide_inference(x, crop_size=crop, stride=stride)
        expected = mmseg_slide(tiny, x, crop, stride)
    assert got.shape == (1, 5, *hw)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)
    assert len(slide_windows(*hw, crop, stride)) > 1


@pytest.mark.parametrize("hw", [(33, 45), (32, 32), (17, 5)])
def test_one_window_equals_whole(tiny, hw):
    x = torch.randn(1, 3, *hw)
    model = MODELS.build(tiny_cfg(mode="slide", crop_size=(48, 48), stride=(32, 32))).eval()
    model.load_state_dict(tiny.state_dict())
    assert len(slide_windows(*hw, 48, 32)) == 1
    with torch.no_grad():
        torch.testing.assert_close(model.inference(x), tiny.whole_inference(x), rtol=0, atol=0)


@pytest.mark.parametrize("hw", [(1, 1), (7, 3), (31, 65), (50, 49)])
def test_shapes_for_odd_sizes(tiny, hw):
    x = torch.randn(2, 3, *hw)
    with torch.no_grad():
        assert tiny.whole_inference(x).shape == (2, 5, *hw)
        assert tiny.slide_inference(x, crop_size=32, stride=24).shape == (2, 5, *hw)


def test_windows_worked_by_hand():
    # ADE20K after resizing to short side 512: 512 x 683, crop 512, stride 341.
    # h: max(512 - 512 + 340, 0) // 341 + 1 = 1; w: (683 - 512 + 340) // 341 + 1 = 2;
    # the second window would end at 341 + 512 = 853 > 683, so it is shifted to 171..683.
    assert slide_windows(512, 683, 512, 341) == [(0, 512, 0, 512), (0, 512, 171, 683)]
    # Cityscapes 1024 x 2048, crop 769, stride 513: 2 rows, 4 columns.
    # rows: 0..769, then 513..1282 shifted to 255..1024;
    # columns: 0..769, 513..1282, 1026..1795, then 1539..2308 shifted to 1279..2048.
    rows = [(0, 769), (255, 1024)]
    cols = [(0, 769), (513, 1282), (1026, 1795), (1279, 2048)]
    assert slide_windows(1024, 2048, 769, 513) == [(*r, *c) for r in rows for c in cols]
    # an image smaller than the crop: one window, the image itself (no padding)
    assert slide_windows(300, 200, (512, 512), (341, 341)) == [(0, 300, 0, 200)]


def test_neck_and_list_of_auxiliary_heads():
    torch.manual_seed(2)
    cfg = tiny_cfg()
    cfg["neck"] = dict(type="FPN", in_channels_list=(8, 16, 32, 64), out_channels=8)
    cfg["decode_head"] = dict(type="FCNHead", in_channels=8, channels=8, num_classes=5, in_index=0)
    cfg["auxiliary_head"] = [
        dict(type="FCNHead", in_channels=8, channels=4, num_classes=5, in_index=i) for i in (1, 2)
    ]
    model = MODELS.build(cfg).eval()
    assert isinstance(model.neck, FPN) and isinstance(model.auxiliary_head, nn.ModuleList)
    x = torch.randn(1, 3, 40, 40)
    with torch.no_grad():
        out = model.forward_train(x)
        assert len(model.extract_feat(x)) == 5  # P2..P5 and the max-pooled P6
    assert list(out) == ["decode", "aux_0", "aux_1"]
    assert all(v.shape == (1, 5, 40, 40) for v in out.values())


def test_loss_is_weighted_cross_entropy_of_each_head(tiny):
    torch.manual_seed(1)
    model = MODELS.build(tiny_cfg())
    model.auxiliary_head.loss_weight = 0.4
    model.eval()  # no dropout, fixed BN statistics: the logits below are the ones scored
    img = torch.randn(2, 3, 32, 32)
    label = torch.randint(0, 5, (2, 32, 32))
    label[0, :10] = 255  # ignored rows
    with torch.no_grad():
        losses = model.loss(img, label)
        logits = model.forward_train(img)
        # oracle 1: PyTorch's own mean over non-ignored pixels
        want_decode = F.cross_entropy(logits["decode"], label, ignore_index=255)
        want_aux = 0.4 * F.cross_entropy(logits["aux"], label, ignore_index=255)
        # oracle 2 (mmseg's avg_non_ignore=False): -log p of the true class, summed over the
        # valid pixels, divided by ALL pixels, written out by hand
        logp = logits["decode"].log_softmax(1)
        valid = label != 255
        picked = logp.gather(1, label.clamp(max=4).unsqueeze(1)).squeeze(1)
        want_all = -(picked * valid).sum() / label.numel()
        all_pixels = model.loss(img, label, avg_non_ignore=False)
    assert sorted(losses) == ["aux.loss_ce", "decode.loss_ce"]
    torch.testing.assert_close(losses["decode.loss_ce"], want_decode)
    torch.testing.assert_close(losses["aux.loss_ce"], want_aux)
    torch.testing.assert_close(all_pixels["decode.loss_ce"], want_all)
    assert all_pixels["decode.loss_ce"] < losses["decode.loss_ce"]  # ignored pixels dilute it


def test_loss_backpropagates_into_every_head():
    torch.manual_seed(2)
    model = MODELS.build(tiny_cfg())
    label = torch.randint(0, 5, (2, 32, 32))  # batch of 2: the PPM's 1x1 pool needs BN stats
    sum(model.loss(torch.randn(2, 3, 32, 32), label).values()).backward()
    for part in (model.backbone, model.decode_head, model.auxiliary_head):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


def test_swin_config_weights_the_auxiliary_loss_like_mmseg():
    # mmseg's upernet_swin config: auxiliary_head=dict(..., loss_decode=dict(loss_weight=0.4))
    assert swin_t_upernet_config()["auxiliary_head"]["loss_weight"] == 0.4
    with torch.device("meta"):
        model = MODELS.build(swin_t_upernet_config())
    assert model.auxiliary_head.loss_weight == 0.4 and model.decode_head.loss_weight == 1.0


def test_loss_rejects_bad_labels(tiny):
    img = torch.randn(1, 3, 16, 16)
    with pytest.raises(ValueError, match="integer tensor"):
        tiny.loss(img, torch.zeros(1, 16, 16))
    with pytest.raises(ValueError, match=r"shape \(B, H, W\)"):
        tiny.loss(img, torch.zeros(1, 8, 16, dtype=torch.long))


def test_errors(tiny):
    with pytest.raises(ValueError, match="crop_size and stride"):
        EncoderDecoder(tiny.backbone, tiny.decode_head, test_cfg=dict(mode="slide"))
    with pytest.raises(ValueError, match="'whole' or 'slide'"):
        EncoderDecoder(tiny.backbone, tiny.decode_head, test_cfg=dict(mode="sliding"))
    with pytest.raises(ValueError, match="unknown keys"):
        EncoderDecoder(tiny.backbone, tiny.decode_head, test_cfg=dict(mode="whole", stride=3))
    with pytest.raises(TypeError, match=r"backbone must be an nn\.Module or a config dict"):
        EncoderDecoder("SwinTransformer", tiny.decode_head)
    with pytest.raises(TypeError, match="crop_size"):
        slide_windows(10, 10, (4, 4, 4), 2)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        slide_windows(10, 10, 4, 0)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        tiny(torch.zeros(3, 8, 8))
