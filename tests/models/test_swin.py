"""Tests for knowledge.models.swin against independent oracles.

Oracles:
* timm 1.0 (test-only), configured as the official segmentation code at sizes where no stage
  needs padding (``always_partition=True``, dynamic size, a padding PatchEmbed); our weights
  are written in the official layout and converted with timm's own ``checkpoint_filter_fn``;
* a plain reference written here (explicit zero canvas, index arithmetic for the roll, a loop
  over windows, the bias read from the table by its offset formula) for the sizes that need
  padding, where the official order is pad first, then shift;
* torch built-ins (``F.conv2d``, ``F.layer_norm``, ``torchvision.ops.stochastic_depth``,
  ``FlopCounterMode``) and published parameter counts.
"""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from oracles import declare_torchvision_schemas
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

# timm imports torchvision, which needs the op schemas on CPU torch (see tests/oracles.py).
declare_torchvision_schemas()

import torchvision  # noqa: E402
from timm.layers import PatchEmbed as TimmPatchEmbed  # noqa: E402
from timm.models.swin_transformer import PatchMerging as TimmPatchMerging  # noqa: E402
from timm.models.swin_transformer import SwinTransformer as TimmSwin  # noqa: E402
from timm.models.swin_transformer import (  # noqa: E402
    checkpoint_filter_fn,
    get_relative_position_index,
)

from knowledge.models import (  # noqa: E402
    BasicLayer,
    DropPath,
    PatchEmbed,
    PatchMerging,
    SwinTransformer,
    SwinTransformerBlock,
    WindowAttention,
    attention_macs,
    convert_official_checkpoint,
    relative_position_index,
    shift_regions,
    shifted_window_mask,
    window_partition,
    window_reverse,
)

TINY = dict(embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), drop_path_rate=0.0)


def perturb_(
    model: nn.Module, seed: int = 0, scale: float = 0.05, *, vectors_only: bool = False
) -> nn.Module:
    """Adds noise to the weights, so that biases (init 0) and LayerNorms (1, 0) are not trivial
    and attention is far from uniform. ``vectors_only`` skips the (already random) matrices."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1 or not vectors_only:
                p.add_(torch.randn(p.shape, generator=gen) * scale)
    return model.eval()


def timm_like_official(model: SwinTransformer, **kwargs) -> nn.Module:
    """timm's Swin in the official segmentation mode, loaded with ``model``'s weights.

    ``checkpoint_filter_fn`` maps the official layout (downsample at the end of stages
    0..2) onto timm's (downsample at the start of stages 1..3). timm's classifier norm and
    head have no counterpart in a backbone and stay as initialised (they are not used).
    """
    depths = tuple(len(layer.blocks) for layer in model.layers)
    heads = tuple(layer.blocks[0].attn.num_heads for layer in model.layers)
    ref = TimmSwin(
        embed_dim=model.num_features[0],
        depths=depths,
        num_heads=heads,
        window_size=model.layers[0].window_size,
        num_classes=kwargs.pop("num_classes", 0),
        always_partition=kwargs.pop("always_partition", True),
        dynamic_img_size=True,
        embed_layer=partial(TimmPatchEmbed, dynamic_img_pad=True),
        **kwargs,
    ).eval()
    official = {k: v for k, v in model.state_dict().items() if not k.startswith("norm")}
    missing, unexpected = ref.load_state_dict(checkpoint_filter_fn(official, ref), strict=False)
    assert sorted(k for k in missing if not k.startswith("head.")) == ["norm.bias", "norm.weight"]
    assert unexpected == []
    return ref


def timm_stage_outputs(ref: nn.Module, model: SwinTransformer, x: torch.Tensor) -> list:
    """timm's per-stage outputs, NCHW, passed through our output LayerNorms."""
    feats = ref.forward_intermediates(x, intermediates_only=True)
    return [
        getattr(model, f"norm{i}")(f.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        for i, f in enumerate(feats)
    ]


@pytest.fixture(scope="module")
def swin_t() -> SwinTransformer:
    torch.manual_seed(0)
    return perturb_(SwinTransformer(), scale=0.02, vectors_only=True)


@pytest.fixture(scope="module")
def timm_t(swin_t) -> nn.Module:
    """timm's Swin-T with its 1000-class head, holding the weights of ``swin_t``."""
    return timm_like_official(swin_t, num_classes=1000)


# --------------------------------------------------------------------------------------
# Parameter counts and names: published numbers and the official key layout
# --------------------------------------------------------------------------------------


def test_swin_t_parameter_count(swin_t, timm_t):
    total = sum(p.numel() for p in swin_t.parameters())
    backbone = sum(p.numel() for n, p in swin_t.named_parameters() if not n.startswith("norm"))
    # Reference numbers: Swin-T without head and per-output norms, then with the 4 norms
    # (2 * (96 + 192 + 384 + 768) = 2,880 more).
    assert backbone == 27_517_818
    assert total == 27_520_698
    # timm's Swin-T has 28,288,354 with its head: minus Linear(768, 1000) and the final norm.
    timm_total = sum(p.numel() for p in timm_t.parameters())
    assert timm_total == 28_288_354
    assert backbone == timm_total - (768 * 1000 + 1000) - 2 * 768


def test_official_key_layout(swin_t):
    sd = swin_t.state_dict()
    expected_prefixes = [
        "patch_embed.proj.weight",
        "patch_embed.norm.weight",
        "layers.0.blocks.0.norm1.weight",
        "layers.0.blocks.0.attn.qkv.weight",
        "layers.0.blocks.0.attn.proj.bias",
        "layers.0.blocks.0.attn.relative_position_bias_table",
        "layers.0.blocks.0.attn.relative_position_index",
        "layers.0.blocks.1.norm2.bias",
        "layers.0.blocks.1.mlp.fc1.weight",
        "layers.2.blocks.5.mlp.fc2.weight",
        "layers.0.downsample.reduction.weight",
        "layers.2.downsample.norm.weight",
        "norm0.weight",
        "norm3.bias",
    ]
    for key in expected_prefixes:
        assert key in sd, key
    assert "layers.3.downsample.reduction.weight" not in sd  # downsample ends stages 0..2
    assert sd["layers.0.downsample.reduction.weight"].shape == (192, 384)
    assert sd["layers.0.blocks.0.attn.relative_position_bias_table"].shape == (169, 3)
    assert sd["layers.3.blocks.1.attn.relative_position_bias_table"].shape == (169, 24)
    assert sd["patch_embed.proj.weight"].shape == (96, 3, 4, 4)


def test_drop_path_rates_rise_linearly():
    model = SwinTransformer(embed_dim=4, num_heads=(1, 1, 1, 1), drop_path_rate=0.3)
    rates = [b.drop_path.drop_prob for layer in model.layers for b in layer.blocks]
    expected = [0.3 * i / 11 for i in range(12)]  # linspace(0, 0.3, 12 blocks)
    assert rates == pytest.approx(expected, abs=1e-7)


def test_convert_official_checkpoint_loads_into_model():
    torch.manual_seed(0)
    source = perturb_(SwinTransformer(**TINY))
    backbone = {k: v.clone() for k, v in source.state_dict().items() if not k.startswith("norm")}
    cls_ckpt = {  # layout of swin_tiny_patch4_window7_224.pth
        "model": {
            **backbone,
            "layers.0.blocks.1.attn_mask": torch.zeros(64, 49, 49),
            "norm.weight": torch.ones(128),
            "norm.bias": torch.zeros(128),
            "head.weight": torch.zeros(1000, 128),
            "head.bias": torch.zeros(1000),
        }
    }
    fresh = SwinTransformer(**TINY)
    result = fresh.load_state_dict(convert_official_checkpoint(cls_ckpt), strict=False)
    assert sorted(result.missing_keys) == sorted(
        f"norm{i}.{p}" for i in range(4) for p in ("weight", "bias")
    )
    assert result.unexpected_keys == []
    for k, v in backbone.items():
        assert torch.equal(fresh.state_dict()[k], v), k

    seg_ckpt = {  # layout of the official UPerNet checkpoints: backbone. prefix, heads
        "meta": {},
        "state_dict": {
            **{f"backbone.{k}": v for k, v in source.state_dict().items()},
            "decode_head.conv_seg.weight": torch.zeros(150, 512, 1, 1),
        },
    }
    fresh.load_state_dict(convert_official_checkpoint(seg_ckpt), strict=True)
    assert torch.equal(fresh.norm2.weight, source.norm2.weight)


# --------------------------------------------------------------------------------------
# Oracle: timm, at sizes where no stage needs padding
# --------------------------------------------------------------------------------------


@torch.no_grad()
def test_swin_t_matches_timm_at_224(swin_t, timm_t):
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    ours = swin_t(x)
    theirs = timm_stage_outputs(timm_t, swin_t, x)
    shapes = [(1, 96, 56, 56), (1, 192, 28, 28), (1, 384, 14, 14), (1, 768, 7, 7)]
    for a, b, shape in zip(ours, theirs, shapes, strict=True):
        assert a.shape == shape
        torch.testing.assert_close(a, b, atol=1e-4, rtol=0)


@torch.no_grad()
def test_tiny_matches_timm_at_448():
    torch.manual_seed(0)
    model = perturb_(SwinTransformer(**TINY))
    ref = timm_like_official(model)
    x = torch.randn(1, 3, 448, 448, generator=torch.Generator().manual_seed(2))
    for a, b in zip(model(x), timm_stage_outputs(ref, model, x), strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=0)


@torch.no_grad()
def test_shift_in_a_stage_that_fits_one_window():
    """At 224, stage 3 is 7x7: one window. Official seg code still shifts (with the mask);
    timm's default drops the shift there, which changes that stage's output."""
    torch.manual_seed(0)
    model = perturb_(SwinTransformer(**TINY))
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    ours = model(x)
    timm_default = timm_like_official(model, always_partition=False)
    theirs = timm_stage_outputs(timm_default, model, x)
    torch.testing.assert_close(ours[2], theirs[2], atol=1e-4, rtol=0)  # 14x14: same
    assert (ours[3] - theirs[3]).abs().max() > 1e-2
    assert [b.shift_size for b in model.layers[3].blocks] == [0, 3]


# --------------------------------------------------------------------------------------
# Oracle: a plain reference, for sizes that need padding (pad first, then shift)
# --------------------------------------------------------------------------------------


def reference_block(block: SwinTransformerBlock, x: torch.Tensor) -> torch.Tensor:
    """One block of the official segmentation code, written out step by step.

    Step 1: LayerNorm. Step 2: copy onto a zero canvas of size ceil(H/M)*M x ceil(W/M)*M
    (pad bottom/right). Step 3: cyclic shift by index arithmetic: shifted[i] = padded[(i+s)
    % Hp]. Step 4: in each M x M window, attention per head with the bias read from the
    table at row (dy + M - 1) * (2M - 1) + (dx + M - 1), and -100 added to a pair unless both
    tokens lie on the same side of the wrap-around seam in rows and in columns. Step 5:
    write each result back at its original position (undoes the shift), crop, residual, MLP.
    """
    b, h, w, c = x.shape
    m, s = block.window_size, block.shift_size
    heads = block.attn.num_heads
    d = c // heads
    a = block.attn
    y = F.layer_norm(x, (c,), block.norm1.weight, block.norm1.bias, 1e-5)
    hp, wp = math.ceil(h / m) * m, math.ceil(w / m) * m
    padded = torch.zeros(b, hp, wp, c)
    padded[:, :h, :w] = y
    orig_r = [(i + s) % hp for i in range(hp)]  # shifted row i holds padded row orig_r[i]
    orig_c = [(j + s) % wp for j in range(wp)]
    # The bias does not depend on the window: row (dy + M - 1) * (2M - 1) + (dx + M - 1).
    bias = torch.empty(heads, m * m, m * m)
    for qi in range(m * m):
        for ki in range(m * m):
            dy, dx = qi // m - ki // m, qi % m - ki % m
            bias[:, qi, ki] = a.relative_position_bias_table[
                (dy + m - 1) * (2 * m - 1) + dx + m - 1
            ]
    # Step 4, all windows at once: window (wy, wx) holds shifted positions wy*M + i, wx*M + j.
    pos = [
        [(wy * m + i, wx * m + j) for i in range(m) for j in range(m)]
        for wy in range(hp // m)
        for wx in range(wp // m)
    ]
    rows = torch.tensor([[orig_r[r] for r, _ in win] for win in pos])  # (nW, M²)
    cols = torch.tensor([[orig_c[c_] for _, c_ in win] for win in pos])
    tokens = padded[:, rows, cols]  # (B, nW, M², C)
    qkv = F.linear(tokens, a.qkv.weight, a.qkv.bias).view(b, len(pos), m * m, 3, heads, d)
    wrapped_r, wrapped_c = rows < s, cols < s  # came from the top rows / left columns
    same_side = (wrapped_r[:, :, None] == wrapped_r[:, None, :]) & (
        wrapped_c[:, :, None] == wrapped_c[:, None, :]
    )
    mask = torch.where(same_side, 0.0, -100.0)  # (nW, M², M²)
    res = torch.empty(b, len(pos), m * m, heads, d)
    for hd in range(heads):
        q, k, v = qkv[..., 0, hd, :], qkv[..., 1, hd, :], qkv[..., 2, hd, :]
        logits = q @ k.transpose(-1, -2) / math.sqrt(d) + bias[hd] + mask
        res[..., hd, :] = logits.softmax(-1) @ v
    res = F.linear(res.reshape(b, len(pos), m * m, c), a.proj.weight, a.proj.bias)
    out = torch.zeros(b, hp, wp, c)
    out[:, rows, cols] = res  # Step 5: back to the original positions
    x = x + out[:, :h, :w]
    z = F.layer_norm(x, (c,), block.norm2.weight, block.norm2.bias, 1e-5)
    z = F.linear(F.gelu(F.linear(z, block.mlp.fc1.weight, block.mlp.fc1.bias)),
                 block.mlp.fc2.weight, block.mlp.fc2.bias)  # fmt: skip
    return x + z


def reference_merging(merge: PatchMerging, x: torch.Tensor) -> torch.Tensor:
    """Official PatchMerging: zero pad to even size, x0..x3 by strided slicing, norm, linear."""
    b, h, w, c = x.shape
    canvas = torch.zeros(b, h + h % 2, w + w % 2, c)
    canvas[:, :h, :w] = x
    x0, x1 = canvas[:, 0::2, 0::2], canvas[:, 1::2, 0::2]
    x2, x3 = canvas[:, 0::2, 1::2], canvas[:, 1::2, 1::2]
    cat = torch.cat([x0, x1, x2, x3], dim=-1)
    cat = F.layer_norm(cat, (4 * c,), merge.norm.weight, merge.norm.bias, 1e-5)
    return F.linear(cat, merge.reduction.weight)


def reference_model(model: SwinTransformer, x: torch.Tensor) -> tuple[list, list]:
    """The whole backbone from the reference pieces; also returns each stage's padded size."""
    b, _, h, w = x.shape
    p = model.patch_embed.patch_size
    canvas = torch.zeros(b, x.shape[1], math.ceil(h / p) * p, math.ceil(w / p) * p)
    canvas[:, :, :h, :w] = x
    e = model.patch_embed
    t = F.conv2d(canvas, e.proj.weight, e.proj.bias, stride=p).permute(0, 2, 3, 1)
    t = F.layer_norm(t, (t.shape[-1],), e.norm.weight, e.norm.bias, 1e-5)
    outs, padded_sizes = [], []
    for i, layer in enumerate(model.layers):
        m = layer.window_size
        padded_sizes.append((math.ceil(t.shape[1] / m) * m, math.ceil(t.shape[2] / m) * m))
        for block in layer.blocks:
            t = reference_block(block, t)
        norm = getattr(model, f"norm{i}")
        outs.append(F.layer_norm(t, (t.shape[-1],), norm.weight, norm.bias, 1e-5))
        if layer.downsample is not None:
            t = reference_merging(layer.downsample, t)
    return [o.permute(0, 3, 1, 2) for o in outs], padded_sizes


@pytest.mark.parametrize(("h", "w", "m"), [(10, 13, 7), (9, 9, 4), (7, 7, 7), (5, 11, 3)])
@torch.no_grad()
def test_block_matches_reference(h, w, m):
    torch.manual_seed(h * w)
    block = perturb_(SwinTransformerBlock(12, 3, window_size=m, shift_size=m // 2))
    x = torch.randn(2, h, w, 12)
    torch.testing.assert_close(block(x), reference_block(block, x), atol=1e-5, rtol=0)
    plain = perturb_(SwinTransformerBlock(12, 3, window_size=m, shift_size=0))
    torch.testing.assert_close(plain(x), reference_block(plain, x), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("size", "stage_sizes", "padded"),
    [
        # 512: 128, 64, 32, 16 tokens per side; padded to multiples of 7: 133, 70, 35, 21
        ((512, 512), [(128, 128), (64, 64), (32, 32), (16, 16)],
         [(133, 133), (70, 70), (35, 35), (21, 21)]),
        # 97 x 130: ceil(97/4) = 25, ceil(130/4) = 33, then ceil(./2) at each merge
        ((97, 130), [(25, 33), (13, 17), (7, 9), (4, 5)],
         [(28, 35), (14, 21), (7, 14), (7, 7)]),
    ],
)  # fmt: skip
@torch.no_grad()
def test_model_matches_reference_where_padding_is_needed(size, stage_sizes, padded):
    torch.manual_seed(0)
    model = perturb_(SwinTransformer(embed_dim=8, depths=(2, 2, 2, 2), num_heads=(1, 1, 2, 2)))
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(4))
    ours = model(x)
    expected, padded_sizes = reference_model(model, x)
    assert padded_sizes == padded
    for i, (a, e) in enumerate(zip(ours, expected, strict=True)):
        assert a.shape == (1, 8 * 2**i, *stage_sizes[i])
        torch.testing.assert_close(a, e, atol=1e-4, rtol=0)
    # timm's dynamic mode shifts before it pads: a different model wherever padding happens
    # (at 512 every stage needs padding; at 97 x 130 stage 0 does).
    timm_out = timm_stage_outputs(timm_like_official(model), model, x)
    assert (ours[0] - timm_out[0]).abs().max() > 1e-2


# --------------------------------------------------------------------------------------
# The pieces
# --------------------------------------------------------------------------------------


def test_patch_embed_pads_bottom_right_like_conv_on_zero_canvas():
    torch.manual_seed(0)
    embed = perturb_(PatchEmbed(4, 3, 8, norm_layer=nn.LayerNorm))
    x = torch.randn(2, 3, 30, 45)
    canvas = torch.zeros(2, 3, 32, 48)
    canvas[:, :, :30, :45] = x
    expected = F.conv2d(canvas, embed.proj.weight, embed.proj.bias, stride=4)
    expected = F.layer_norm(expected.permute(0, 2, 3, 1), (8,), embed.norm.weight, embed.norm.bias)
    torch.testing.assert_close(embed(x), expected.permute(0, 3, 1, 2), atol=1e-6, rtol=0)
    timm_embed = TimmPatchEmbed(
        None, 4, 3, 8, norm_layer=nn.LayerNorm, output_fmt="NHWC", dynamic_img_pad=True
    )
    timm_embed.load_state_dict(embed.state_dict())
    with torch.no_grad():
        theirs = timm_embed(x).permute(0, 3, 1, 2)  # (B, H/4, W/4, C) -> NCHW
        torch.testing.assert_close(embed(x), theirs, atol=1e-6, rtol=0)
    assert embed.proj.kernel_size == embed.proj.stride == (4, 4)


def test_patch_merging_order_and_odd_sizes():
    # A 4 x 4 map whose value is 10 * row + column: the first output token must hold
    # x0 = (0, 0), x1 = (1, 0), x2 = (0, 1), x3 = (1, 1), i.e. 0, 10, 1, 11.
    grid = (torch.arange(4)[:, None] * 10 + torch.arange(4)[None, :]).float()
    cat = PatchMerging.concat_neighbours(grid.view(1, 4, 4, 1))
    assert cat[0, 0, 0].tolist() == [0.0, 10.0, 1.0, 11.0]
    assert cat[0, 1, 1].tolist() == [22.0, 32.0, 23.0, 33.0]
    torch.manual_seed(0)
    merge = perturb_(PatchMerging(6))
    for h, w in [(8, 8), (7, 10), (9, 5), (1, 1)]:
        x = torch.randn(2, h, w, 6)
        out = merge(x)
        assert out.shape == (2, math.ceil(h / 2), math.ceil(w / 2), 12)
        torch.testing.assert_close(out, reference_merging(merge, x), atol=1e-6, rtol=0)
    timm_merge = TimmPatchMerging(6)
    timm_merge.load_state_dict(merge.state_dict())
    x = torch.randn(2, 7, 10, 6)
    with torch.no_grad():
        torch.testing.assert_close(merge(x), timm_merge(x), atol=1e-6, rtol=0)


def test_window_partition_and_reverse():
    x = torch.randn(2, 6, 9, 4)
    windows = window_partition(x, 3)
    expected = [x[b, i : i + 3, j : j + 3] for b in range(2) for i in (0, 3) for j in (0, 3, 6)]
    assert torch.equal(windows, torch.stack(expected))
    assert torch.equal(window_reverse(windows, 3, 6, 9), x)
    with pytest.raises(ValueError, match="H=7 and W=9 must be multiples of window_size=3"):
        window_partition(torch.zeros(1, 7, 9, 1), 3)
    with pytest.raises(ValueError, match="do not tile"):
        window_reverse(windows[:5], 3, 6, 9)


def test_relative_position_index_matches_offsets_and_timm():
    for m in (1, 2, 3, 7):
        idx = relative_position_index(m)
        for qi in range(m * m):
            for ki in range(m * m):
                dy, dx = qi // m - ki // m, qi % m - ki % m
                assert idx[qi, ki] == (dy + m - 1) * (2 * m - 1) + (dx + m - 1)
        assert torch.equal(idx, get_relative_position_index(m, m))
        assert idx.max() == (2 * m - 1) ** 2 - 1  # every table row is used
        assert len(idx.unique()) == (2 * m - 1) ** 2


@pytest.mark.parametrize(("h", "w", "m", "s"), [(14, 14, 7, 3), (10, 13, 7, 3), (8, 8, 4, 2)])
def test_shifted_window_mask_matches_official_slices(h, w, m, s):
    hp, wp = math.ceil(h / m) * m, math.ceil(w / m) * m
    img = torch.zeros(hp, wp)  # the official h_slices / w_slices loop
    cnt = 0
    for hs in (slice(0, -m), slice(-m, -s), slice(-s, None)):
        for ws in (slice(0, -m), slice(-m, -s), slice(-s, None)):
            img[hs, ws] = cnt
            cnt += 1
    assert torch.equal(shift_regions(h, w, m, s), img.long())
    labels = window_partition(img.view(1, hp, wp, 1), m).view(-1, m * m)
    diff = labels.unsqueeze(1) - labels.unsqueeze(2)
    expected = diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)
    assert torch.equal(shifted_window_mask(h, w, m, s), expected)


def test_shifted_window_mask_regions_at_224_stage_3():
    # 7x7 map, one 7x7 window, shift 3: rows 0..3 vs 4..6, columns likewise: 4 regions of
    # 4*4, 4*3, 3*4, 3*3 tokens; 16² + 12² + 12² + 9² = 625 of the 49² pairs may attend.
    mask = shifted_window_mask(7, 7, 7, 3)
    assert mask.shape == (1, 49, 49)
    assert int((mask == 0).sum()) == 16**2 + 12**2 + 12**2 + 9**2
    assert set(mask.unique().tolist()) == {0.0, -100.0}
    assert not shifted_window_mask(14, 14, 7, 0).any()


def test_attention_macs_match_flop_counter():
    # FlopCounterMode counts 2 FLOPs per multiply-add of the matmuls (projections, QK^T, AV).
    torch.manual_seed(0)
    h = w = 14
    c = 16
    x = torch.randn(1, h, w, c)
    for m in (7, 14):  # m = 14: one window over the whole map, i.e. global attention
        attn = WindowAttention(c, m, 2).eval()
        windows = window_partition(x, m).view(-1, m * m, c)
        with FlopCounterMode(display=False) as counter:
            attn(windows)
        expected = attention_macs(h, w, c, window_size=m)
        assert counter.get_total_flops() == 2 * expected
    assert attention_macs(h, w, c) == attention_macs(h, w, c, window_size=14)
    assert attention_macs(h, w, c) == 4 * 196 * 16**2 + 2 * 196**2 * 16


def test_drop_path_matches_torchvision_stochastic_depth():
    x = torch.randn(16, 5, 3)
    drop = DropPath(0.3).train()
    torch.manual_seed(7)
    ours = drop(x)
    torch.manual_seed(7)
    expected = torchvision.ops.stochastic_depth(x, 0.3, mode="row", training=True)
    assert torch.equal(ours, expected)
    assert torch.equal(drop.eval()(x), x)
    assert torch.equal(DropPath(0.0).train()(x), x)


def test_training_step_backpropagates_with_stochastic_depth():
    torch.manual_seed(0)
    model = SwinTransformer(
        embed_dim=8,
        depths=(2, 2),
        num_heads=(1, 2),
        drop_path_rate=0.5,
        out_indices=(0, 1),
        drop_rate=0.1,
        attn_drop_rate=0.1,
    ).train()
    outs = model(torch.randn(2, 3, 37, 50))
    assert [tuple(o.shape) for o in outs] == [(2, 8, 10, 13), (2, 16, 5, 7)]
    sum(o.square().mean() for o in outs).backward()
    table = model.layers[0].blocks[1].attn.relative_position_bias_table
    assert table.grad is not None and table.grad.abs().sum() > 0


def test_out_indices_and_any_input_size():
    model = SwinTransformer(**TINY, out_indices=(1, 3)).eval()
    assert not hasattr(model, "norm0") and hasattr(model, "norm3")
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 33, 33))
    assert [tuple(o.shape) for o in outs] == [(1, 32, 5, 5), (1, 128, 2, 2)]
    with torch.no_grad():
        tiny = model(torch.randn(1, 3, 1, 1))  # one patch: every stage is 1 x 1
    assert [tuple(o.shape) for o in tiny] == [(1, 32, 1, 1), (1, 128, 1, 1)]


def test_basic_layer_shares_one_mask_with_its_shifted_blocks():
    torch.manual_seed(0)
    stage = perturb_(BasicLayer(8, 4, 2, window_size=4, downsample=True))
    x = torch.randn(1, 6, 9, 8)
    with torch.no_grad():
        out, merged = stage(x)
        y = x
        for block in stage.blocks:
            y = reference_block(block, y)
    torch.testing.assert_close(out, y, atol=1e-5, rtol=0)
    assert merged.shape == (1, 3, 5, 16)
    assert [b.shift_size for b in stage.blocks] == [0, 2, 0, 2]


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match=r"num_heads\[1\]=5 does not divide stage 1's 192"):
        SwinTransformer(num_heads=(3, 5, 12, 24))
    with pytest.raises(ValueError, match="must be non-empty and of equal length"):
        SwinTransformer(depths=(2, 2), num_heads=(3, 6, 12))
    with pytest.raises(ValueError, match=r"out_indices=\(0, 4\)"):
        SwinTransformer(out_indices=(0, 4))
    with pytest.raises(ValueError, match=r"drop_path_rate must be in \[0, 1\), got 1.5"):
        SwinTransformer(drop_path_rate=1.5)
    with pytest.raises(TypeError, match=r"window_size must be an int, got 7\.0"):
        SwinTransformer(window_size=7.0)
    with pytest.raises(ValueError, match=r"PatchEmbed expects \(B, 3, H, W\), got \(1, 1, 8, 8\)"):
        PatchEmbed()(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"expects channels-last input of shape \(B, H, W, 8\)"):
        PatchMerging(8)(torch.zeros(1, 8, 4, 4))
    with pytest.raises(ValueError, match=r"shift_size must be in \[0, window_size=7\), got 7"):
        SwinTransformerBlock(8, 2, window_size=7, shift_size=7)
    with pytest.raises(ValueError, match="num_heads=3 must divide dim=8"):
        WindowAttention(8, 7, 3)
    with pytest.raises(ValueError, match=r"expects \(B \* nW, 49, 8\)"):
        WindowAttention(8, 7, 2)(torch.zeros(2, 48, 8))
