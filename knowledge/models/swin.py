r"""The Swin Transformer backbone with the semantics of the official segmentation code.

Swin (Liu et al., ICCV 2021) computes self-attention inside non-overlapping $M \times M$
windows, and alternates regular windows with windows shifted by $\lfloor M/2 \rfloor$, so that
information crosses window borders from one block to the next. For a feature map of
$h \times w$ tokens with $C$ channels the paper counts the multiply-adds of one attention
layer as

$$
\Omega(\mathrm{MSA}) = 4hwC^2 + 2(hw)^2C, \qquad
\Omega(\mathrm{W\text{-}MSA}) = 4hwC^2 + 2M^2hwC,
$$

so the cost grows linearly with the number of tokens instead of quadratically.

The backbone follows ``Swin-Transformer-Semantic-Segmentation`` (and mmseg's ``swin.py``):
parameter names and shapes are those of the official checkpoints, inputs of any size are
padded at the bottom and right, and inside each block the normalised feature map is first
padded to a multiple of $M$ and then cyclically shifted; every odd block shifts, even when a
stage fits into one window. Tensors are channels-last (B, H, W, C) inside and NCHW at the
public boundary of [`SwinTransformer`][knowledge.models.SwinTransformer].
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from knowledge.registry import MODELS

__all__ = [
    "BasicLayer",
    "DropPath",
    "Mlp",
    "PatchEmbed",
    "PatchMerging",
    "SwinTransformer",
    "SwinTransformerBlock",
    "WindowAttention",
    "attention_macs",
    "convert_official_checkpoint",
    "relative_position_index",
    "shift_regions",
    "shifted_window_mask",
    "window_partition",
    "window_reverse",
]

# The value that the official code adds to the logits of pairs from different regions.
MASK_VALUE = -100.0


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_prob(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, got {value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)


def _check_tokens(name: str, x: Tensor, dim: int) -> None:
    if x.dim() != 4 or x.shape[-1] != dim:
        raise ValueError(
            f"{name} expects channels-last input of shape (B, H, W, {dim}), got {tuple(x.shape)}"
        )


def window_partition(x: Tensor, window_size: int) -> Tensor:
    """Cuts a channels-last feature map into non-overlapping square windows.

    Windows are ordered row by row (all windows of the top row first), as in the official code.

    Args:
        x: feature map of shape (B, H, W, C), with H and W multiples of ``window_size``.
        window_size: side M of a window.

    Returns:
        Windows of shape (B * nW, M, M, C), where nW = (H / M) * (W / M).

    Raises:
        ValueError: if ``x`` is not 4-D or H or W is not a multiple of M.

    Examples:
        >>> x = torch.arange(16.0).view(1, 4, 4, 1)
        >>> windows = window_partition(x, 2)
        >>> windows.shape
        torch.Size([4, 2, 2, 1])
        >>> windows[1, :, :, 0]  # the top-right window
        tensor([[2., 3.],
                [6., 7.]])
    """
    m = _check_int("window_size", window_size, 1)
    if x.dim() != 4:
        raise ValueError(f"window_partition expects (B, H, W, C), got shape {tuple(x.shape)}")
    b, h, w, c = x.shape
    if h % m or w % m:
        raise ValueError(f"H={h} and W={w} must be multiples of window_size={m}; pad first")
    x = x.reshape(b, h // m, m, w // m, m, c)  # (B, H/M, M, W/M, M, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, m, m, c)  # (B * nW, M, M, C)


def window_reverse(windows: Tensor, window_size: int, H: int, W: int) -> Tensor:
    """Puts windows from [`window_partition`][knowledge.models.window_partition] back together.

    Args:
        windows: windows of shape (B * nW, M, M, C).
        window_size: side M of a window.
        H: height of the feature map, a multiple of M.
        W: width of the feature map, a multiple of M.

    Returns:
        Feature map of shape (B, H, W, C).

    Raises:
        ValueError: if the shapes do not fit together.

    Examples:
        >>> x = torch.randn(2, 6, 9, 5)
        >>> torch.equal(window_reverse(window_partition(x, 3), 3, 6, 9), x)
        True
    """
    m = _check_int("window_size", window_size, 1)
    if H % m or W % m:
        raise ValueError(f"H={H} and W={W} must be multiples of window_size={m}")
    n = (H // m) * (W // m)
    if windows.dim() != 4 or windows.shape[1:3] != (m, m) or windows.shape[0] % n:
        raise ValueError(
            f"windows of shape {tuple(windows.shape)} do not tile a {H}x{W} map with "
            f"window_size={m}: expected (B * {n}, {m}, {m}, C)"
        )
    c = windows.shape[-1]
    x = windows.view(-1, H // m, W // m, m, m, c)  # (B, H/M, W/M, M, M, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, H, W, c)  # (B, H, W, C)


def relative_position_index(window_size: int) -> Tensor:
    r"""Index into the relative position bias table for every (query, key) pair of a window.

    Tokens are numbered row by row, $i = y \cdot M + x$. A pair with offset
    $(\Delta y, \Delta x) = (y_q - y_k, x_q - x_k) \in [-(M-1), M-1]^2$ reads row
    $(\Delta y + M - 1)(2M - 1) + (\Delta x + M - 1)$ of a table with $(2M-1)^2$ rows.

    Args:
        window_size: side M of a window.

    Returns:
        Integer tensor of shape (M², M²) with values in [0, (2M - 1)²).

    Examples:
        >>> relative_position_index(2)  # a 3 x 3 table of offsets; row 4 is offset (0, 0)
        tensor([[4, 3, 1, 0],
                [5, 4, 2, 1],
                [7, 6, 4, 3],
                [8, 7, 5, 4]])
    """
    m = _check_int("window_size", window_size, 1)
    ys, xs = torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")
    coords = torch.stack([ys.flatten(), xs.flatten()])  # (2, M²)
    rel = coords[:, :, None] - coords[:, None, :] + (m - 1)  # (2, M², M²), shifted to >= 0
    return rel[0] * (2 * m - 1) + rel[1]


def shift_regions(H: int, W: int, window_size: int, shift_size: int) -> Tensor:
    """Labels the regions of a padded map that a cyclic shift brings into the same windows.

    The map is padded to Hp = ⌈H/M⌉·M by Wp = ⌈W/M⌉·M. After ``torch.roll`` by ``-shift_size``,
    rows [0, Hp - M) hold tokens that were already neighbours, rows [Hp - M, Hp - s) and
    [Hp - s, Hp) come from the bottom and the top of the map; the same holds for columns.
    Label = 3 * row band + column band, so up to 9 regions (0..8), as the official code's
    ``img_mask``.

    Args:
        H: height of the feature map (before padding).
        W: width of the feature map (before padding).
        window_size: window side M.
        shift_size: cyclic shift s, with 0 <= s < M.

    Returns:
        Integer tensor of shape (Hp, Wp) with region labels in the shifted coordinates.

    Raises:
        ValueError: if a size is < 1 or ``shift_size`` is not in [0, M).

    Examples:
        >>> shift_regions(4, 4, 2, 1)
        tensor([[0, 0, 1, 2],
                [0, 0, 1, 2],
                [3, 3, 4, 5],
                [6, 6, 7, 8]])
    """
    _check_int("H", H, 1)
    _check_int("W", W, 1)
    m = _check_int("window_size", window_size, 1)
    s = _check_int("shift_size", shift_size, 0)
    if s >= m:
        raise ValueError(f"shift_size must be in [0, window_size={m}), got {s}")

    def bands(n: int) -> Tensor:
        idx = torch.arange(math.ceil(n / m) * m)
        return (idx >= idx.numel() - m).long() + (idx >= idx.numel() - s).long() * (s > 0)

    return bands(H)[:, None] * 3 + bands(W)[None, :]


def shifted_window_mask(
    H: int,
    W: int,
    window_size: int,
    shift_size: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Additive attention mask for shifted windows: 0 within a region, -100 across regions.

    Computed for the padded size, as in the official segmentation code: regions come from
    [`shift_regions`][knowledge.models.shift_regions], cut into windows in the order of
    [`window_partition`][knowledge.models.window_partition].

    Args:
        H: height of the feature map (before padding).
        W: width of the feature map (before padding).
        window_size: window side M.
        shift_size: cyclic shift s, with 0 <= s < M (s = 0 gives an all-zero mask).
        device: device of the mask.
        dtype: floating dtype of the mask.

    Returns:
        Mask of shape (nW, M², M²): entry [w, i, j] is added to the logit of query i and key j
        in window w.

    Examples:
        >>> mask = shifted_window_mask(4, 4, 2, 1)
        >>> mask.shape  # 4 windows of 2 x 2 tokens
        torch.Size([4, 4, 4])
        >>> mask[3]  # the bottom-right window holds 4 regions: no pair may attend
        tensor([[   0., -100., -100., -100.],
                [-100.,    0., -100., -100.],
                [-100., -100.,    0., -100.],
                [-100., -100., -100.,    0.]])
    """
    regions = shift_regions(H, W, window_size, shift_size).to(device)
    m = window_size
    labels = window_partition(regions[None, :, :, None], m).view(-1, m * m)  # (nW, M²)
    different = labels[:, None, :] != labels[:, :, None]  # (nW, M², M²)
    zeros = torch.zeros(different.shape, device=device, dtype=dtype)
    return zeros.masked_fill(different, MASK_VALUE)


def attention_macs(h: int, w: int, dim: int, *, window_size: int | None = None) -> int:
    r"""Multiply-adds of one attention layer, as counted in the Swin paper.

    $\Omega(\mathrm{MSA}) = 4hwC^2 + 2(hw)^2C$ for global attention and
    $\Omega(\mathrm{W\text{-}MSA}) = 4hwC^2 + 2M^2hwC$ for windows of side $M$. The first
    term is the q, k, v and output projections, the second $QK^\top$ and the product with $V$.
    Softmax, the bias and padding are not counted.

    Args:
        h: height of the feature map in tokens.
        w: width of the feature map in tokens.
        dim: channels C.
        window_size: side M of the windows, or None for global attention.

    Returns:
        The number of multiply-adds (one multiply-add is 2 FLOPs).

    Examples:
        >>> attention_macs(56, 56, 96)  # global attention on Swin-T's first stage (224 input)
        2003828736
        >>> attention_macs(56, 56, 96, window_size=7)
        145108992
    """
    hw = _check_int("h", h, 1) * _check_int("w", w, 1)
    c = _check_int("dim", dim, 1)
    pairs = hw if window_size is None else _check_int("window_size", window_size, 1) ** 2
    return 4 * hw * c * c + 2 * pairs * hw * c


class DropPath(nn.Module):
    r"""Stochastic depth: drops the whole residual branch of a sample with probability p.

    In training, each sample of the batch is multiplied by $z / (1 - p)$ with
    $z \sim \mathrm{Bernoulli}(1 - p)$, so the expectation is unchanged; in eval it is the
    identity. Same as timm's ``DropPath`` and torchvision's ``StochasticDepth(mode="row")``.

    Args:
        drop_prob: probability p of dropping a sample's branch, in [0, 1).

    Examples:
        >>> drop = DropPath(0.5).eval()
        >>> x = torch.ones(4, 3)
        >>> torch.equal(drop(x), x)
        True
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = _check_prob("drop_prob", drop_prob)

    def forward(self, x: Tensor) -> Tensor:
        """Drops samples along dim 0 in training mode.

        Args:
            x: tensor whose first dimension is the batch.

        Returns:
            Tensor of the same shape.
        """
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        return x * x.new_empty(shape).bernoulli_(keep).div_(keep)

    def extra_repr(self) -> str:
        """Shows ``drop_prob`` in the module's repr."""
        return f"drop_prob={self.drop_prob}"


class Mlp(nn.Module):
    """The feed-forward part of a block: ``fc1``, GELU, dropout, ``fc2``, dropout.

    Args:
        in_features: channels C.
        hidden_features: hidden channels (Swin uses 4C).
        drop: dropout probability after the activation and after ``fc2``.

    Examples:
        >>> Mlp(8, 32)(torch.randn(2, 5, 8)).shape
        torch.Size([2, 5, 8])
    """

    def __init__(self, in_features: int, hidden_features: int, *, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(_check_prob("drop", drop))

    def forward(self, x: Tensor) -> Tensor:
        """Applies the MLP to the last dimension.

        Args:
            x: tokens of shape (..., C).

        Returns:
            Tokens of shape (..., C).
        """
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class WindowAttention(nn.Module):
    r"""Multi-head self-attention inside windows, with a learned relative position bias.

    For each head, $\mathrm{softmax}(QK^\top / \sqrt{d} + B + \mathrm{mask})\,V$, where the bias
    $B$ of shape (M², M²) is gathered from ``relative_position_bias_table`` (shape
    ((2M - 1)², heads)) with the ``relative_position_index`` buffer.

    Args:
        dim: channels C.
        window_size: window side M.
        num_heads: number of heads; must divide C.
        qkv_bias: whether the q, k, v projection has a bias.
        qk_scale: scale of the logits; None means $d^{-1/2}$ with $d$ = C / heads.
        attn_drop: dropout probability on the attention weights.
        proj_drop: dropout probability after the output projection.

    Raises:
        ValueError: if ``num_heads`` does not divide ``dim``.

    Examples:
        >>> attn = WindowAttention(8, 7, 2)
        >>> attn.relative_position_bias_table.shape  # (2 * 7 - 1) ** 2 rows, one column per head
        torch.Size([169, 2])
        >>> attn(torch.randn(3, 49, 8)).shape  # 3 windows of 49 tokens
        torch.Size([3, 49, 8])
    """

    def __init__(
        self,
        dim: int,
        window_size: int,
        num_heads: int,
        *,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim = _check_int("dim", dim, 1)
        self.window_size = _check_int("window_size", window_size, 1)
        self.num_heads = _check_int("num_heads", num_heads, 1)
        if dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide dim={dim}")
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1) ** 2, num_heads)
        )
        self.register_buffer("relative_position_index", relative_position_index(window_size))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(_check_prob("attn_drop", attn_drop))
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(_check_prob("proj_drop", proj_drop))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def relative_position_bias(self) -> Tensor:
        """The bias added to the logits, gathered from the table.

        Returns:
            Tensor of shape (heads, M², M²).
        """
        n = self.window_size**2
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        return bias.view(n, n, -1).permute(2, 0, 1)  # (M², M², heads) -> (heads, M², M²)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Attention within each window.

        Args:
            x: windows of tokens, shape (B * nW, M², C), in the order of
                [`window_partition`][knowledge.models.window_partition].
            mask: additive mask of shape (nW, M², M²), or None.

        Returns:
            Tokens of shape (B * nW, M², C).
        """
        b_, n, c = x.shape
        if n != self.window_size**2 or c != self.dim:
            raise ValueError(
                f"WindowAttention expects (B * nW, {self.window_size**2}, {self.dim}), "
                f"got {tuple(x.shape)}"
            )
        qkv = self.qkv(x).view(b_, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B * nW, heads, M², d)
        attn = (q * self.scale) @ k.transpose(-2, -1)  # (B * nW, heads, M², M²)
        attn += self.relative_position_bias().to(attn.dtype)  # in place: matmul keeps q, k
        if mask is not None:
            nw = mask.shape[0]
            if b_ % nw:
                raise ValueError(f"mask has {nw} windows, which does not divide B * nW = {b_}")
            attn.view(b_ // nw, nw, self.num_heads, n, n).add_(mask.to(attn.dtype)[:, None])
        attn = self.attn_drop(attn.softmax(dim=-1))
        out = attn @ v  # (B * nW, heads, M², d)
        out = out.reshape(b_, self.num_heads, n, -1).transpose(1, 2).reshape(b_, n, c)
        return self.proj_drop(self.proj(out))


class SwinTransformerBlock(nn.Module):
    """One Swin block: (shifted) window attention and an MLP, each pre-norm and residual.

    Segmentation semantics: after ``norm1`` the map is zero-padded at the bottom and right
    to a multiple of M, then rolled by -s (s = ``shift_size``), attended in windows with the
    mask of [`shifted_window_mask`][knowledge.models.shifted_window_mask], rolled back and
    cropped. The shift is applied even when the map fits into one window.

    Args:
        dim: channels C.
        num_heads: number of attention heads.
        window_size: window side M.
        shift_size: cyclic shift s in [0, M); Swin uses 0 and M // 2 alternately.
        mlp_ratio: hidden channels of the MLP divided by C.
        qkv_bias: see [`WindowAttention`][knowledge.models.WindowAttention].
        qk_scale: see [`WindowAttention`][knowledge.models.WindowAttention].
        drop: dropout after the attention projection and in the MLP.
        attn_drop: dropout on the attention weights.
        drop_path: stochastic depth probability of both residual branches.

    Examples:
        >>> block = SwinTransformerBlock(16, 2, window_size=7, shift_size=3).eval()
        >>> block(torch.randn(1, 10, 13, 16)).shape  # padded to 14 x 14 inside
        torch.Size([1, 10, 13, 16])
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        window_size: int = 7,
        shift_size: int = 0,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.window_size = _check_int("window_size", window_size, 1)
        self.shift_size = _check_int("shift_size", shift_size, 0)
        if shift_size >= window_size:
            raise ValueError(
                f"shift_size must be in [0, window_size={window_size}), got {shift_size}"
            )
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(
            dim,
            window_size,
            num_heads,
            qkv_bias=qkv_bias,
            qk_scale=qk_scale,
            attn_drop=attn_drop,
            proj_drop=drop,
        )
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Applies the block.

        Args:
            x: feature map of shape (B, H, W, C), channels-last.
            mask: mask from [`shifted_window_mask`][knowledge.models.shifted_window_mask] for
                this H, W; computed here when None and the block shifts.

        Returns:
            Feature map of shape (B, H, W, C).
        """
        _check_tokens("SwinTransformerBlock", x, self.dim)
        _, h, w, c = x.shape
        m, s = self.window_size, self.shift_size
        shortcut = x
        x = self.norm1(x)
        pad_b, pad_r = (m - h % m) % m, (m - w % m) % m
        if pad_b or pad_r:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))  # pad first: (B, Hp, Wp, C)
        hp, wp = h + pad_b, w + pad_r
        if s:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))  # then shift
            if mask is None:
                mask = shifted_window_mask(h, w, m, s, device=x.device, dtype=x.dtype)
        else:
            mask = None
        windows = window_partition(x, m).view(-1, m * m, c)  # (B * nW, M², C)
        windows = self.attn(windows, mask)
        x = window_reverse(windows.view(-1, m, m, c), m, hp, wp)  # (B, Hp, Wp, C)
        if s:
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))
        if pad_b or pad_r:
            x = x[:, :h, :w, :]  # (B, H, W, C)
        x = shortcut + self.drop_path(x)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    """Splits an image into patches and projects each to ``embed_dim`` channels.

    A Conv2d with kernel = stride = ``patch_size`` (attribute ``proj``), then an optional
    LayerNorm over channels (``norm``). H and W are zero-padded at the bottom and right up to
    multiples of the patch size, so any input size works.

    Args:
        patch_size: patch side P (also the stride).
        in_channels: image channels.
        embed_dim: output channels C.
        norm_layer: factory ``C -> module`` applied channels-last (e.g. ``nn.LayerNorm``), or
            None.

    Examples:
        >>> embed = PatchEmbed(4, 3, 96)
        >>> embed(torch.randn(1, 3, 30, 45)).shape  # ceil(30 / 4) x ceil(45 / 4) patches
        torch.Size([1, 96, 8, 12])
    """

    def __init__(
        self,
        patch_size: int = 4,
        in_channels: int = 3,
        embed_dim: int = 96,
        norm_layer: type[nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.patch_size = _check_int("patch_size", patch_size, 1)
        self.in_channels = _check_int("in_channels", in_channels, 1)
        self.embed_dim = _check_int("embed_dim", embed_dim, 1)
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = norm_layer(embed_dim) if norm_layer is not None else None

    def forward(self, x: Tensor) -> Tensor:
        """Embeds the patches.

        Args:
            x: images of shape (B, in_channels, H, W).

        Returns:
            Feature map of shape (B, embed_dim, ⌈H/P⌉, ⌈W/P⌉).
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"PatchEmbed expects (B, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        p = self.patch_size
        h, w = x.shape[-2:]
        if h % p or w % p:
            x = F.pad(x, (0, (p - w % p) % p, 0, (p - h % p) % p))  # right, then bottom
        x = self.proj(x)  # (B, C, H/P, W/P)
        if self.norm is not None:
            x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # norm over C
        return x


class PatchMerging(nn.Module):
    """Halves H and W and doubles the channels: 2×2 neighbours -> 4C -> LayerNorm -> 2C.

    Neighbours are concatenated in the official order x0 (even row, even column),
    x1 (odd row, even column), x2 (even row, odd column), x3 (odd row, odd column); then
    ``norm`` = LayerNorm(4C) and ``reduction`` = Linear(4C, 2C, bias=False). An odd H or W
    is zero-padded at the bottom or right first.

    Args:
        dim: input channels C.

    Examples:
        >>> merge = PatchMerging(8)
        >>> merge(torch.randn(2, 7, 10, 8)).shape  # ceil(7 / 2) = 4, 10 / 2 = 5
        torch.Size([2, 4, 5, 16])
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = _check_int("dim", dim, 1)
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    @staticmethod
    def concat_neighbours(x: Tensor) -> Tensor:
        """The 4C vector of each 2×2 neighbourhood, before norm and reduction.

        Args:
            x: feature map of shape (B, H, W, C); odd H or W is zero-padded.

        Returns:
            Feature map of shape (B, ⌈H/2⌉, ⌈W/2⌉, 4C): [x0, x1, x2, x3] along channels.

        Examples:
            >>> x = torch.tensor([[11.0, 12.0], [21.0, 22.0]]).view(1, 2, 2, 1)  # row, column
            >>> PatchMerging.concat_neighbours(x).flatten()
            tensor([11., 21., 12., 22.])
        """
        h, w = x.shape[1:3]
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        b, h, w, c = x.shape
        x = x.view(b, h // 2, 2, w // 2, 2, c)  # (B, H/2, row parity, W/2, column parity, C)
        # column parity before row parity gives x0, x1, x2, x3
        return x.permute(0, 1, 3, 4, 2, 5).reshape(b, h // 2, w // 2, 4 * c)

    def forward(self, x: Tensor) -> Tensor:
        """Merges 2×2 neighbourhoods.

        Args:
            x: feature map of shape (B, H, W, C), channels-last.

        Returns:
            Feature map of shape (B, ⌈H/2⌉, ⌈W/2⌉, 2C).
        """
        _check_tokens("PatchMerging", x, self.dim)
        return self.reduction(self.norm(self.concat_neighbours(x)))


class BasicLayer(nn.Module):
    """One stage: ``depth`` blocks alternating s = 0 and s = M // 2, then optional merging.

    The shifted-window mask is computed once per forward for the stage's padded size and
    shared by its shifted blocks.

    Args:
        dim: channels C of the stage.
        depth: number of blocks.
        num_heads: attention heads of each block.
        window_size: window side M.
        mlp_ratio: see [`SwinTransformerBlock`][knowledge.models.SwinTransformerBlock].
        qkv_bias: see [`WindowAttention`][knowledge.models.WindowAttention].
        qk_scale: see [`WindowAttention`][knowledge.models.WindowAttention].
        drop: dropout probability in the blocks.
        attn_drop: attention dropout probability.
        drop_path: stochastic depth probability, one per block or one for all.
        downsample: whether the stage ends with a [`PatchMerging`][knowledge.models.PatchMerging].

    Examples:
        >>> stage = BasicLayer(16, 2, 2, window_size=7, downsample=True).eval()
        >>> out, merged = stage(torch.randn(1, 9, 9, 16))
        >>> tuple(out.shape), tuple(merged.shape)
        ((1, 9, 9, 16), (1, 5, 5, 32))
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        *,
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float | Sequence[float] = 0.0,
        downsample: bool = False,
    ) -> None:
        super().__init__()
        _check_int("depth", depth, 1)
        rates = [drop_path] * depth if isinstance(drop_path, (int, float)) else list(drop_path)
        if len(rates) != depth:
            raise ValueError(f"drop_path has {len(rates)} values for depth={depth}")
        self.window_size = window_size
        self.shift_size = window_size // 2
        self.blocks = nn.ModuleList(
            SwinTransformerBlock(
                dim,
                num_heads,
                window_size=window_size,
                shift_size=0 if i % 2 == 0 else window_size // 2,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                qk_scale=qk_scale,
                drop=drop,
                attn_drop=attn_drop,
                drop_path=rates[i],
            )
            for i in range(depth)
        )
        self.downsample = PatchMerging(dim) if downsample else None

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Runs the blocks, then the merging.

        Args:
            x: feature map of shape (B, H, W, C), channels-last.

        Returns:
            The stage output (B, H, W, C) and the input of the next stage:
            (B, ⌈H/2⌉, ⌈W/2⌉, 2C) after merging, else the stage output itself.
        """
        h, w = x.shape[1:3]
        mask = None
        if self.shift_size and len(self.blocks) > 1:
            mask = shifted_window_mask(
                h, w, self.window_size, self.shift_size, device=x.device, dtype=x.dtype
            )
        for block in self.blocks:
            x = block(x, mask if block.shift_size else None)
        return x, (self.downsample(x) if self.downsample is not None else x)


@MODELS.register()
class SwinTransformer(nn.Module):
    """Swin Transformer backbone for segmentation: 4 NCHW maps with strides 4, 8, 16, 32.

    Parameter names and shapes follow the official checkpoints (``patch_embed``,
    ``layers.{i}.blocks.{j}``, ``layers.{i}.downsample`` at the end of stages 0..2, and one
    LayerNorm ``norm{i}`` per output index), so official weights load without the classifier
    head (see [`convert_official_checkpoint`][knowledge.models.convert_official_checkpoint]).
    Stage i has ``embed_dim * 2**i`` channels. Stochastic depth rises linearly from 0 to
    ``drop_path_rate`` over all blocks.

    Args:
        embed_dim: channels of stage 0 (96 for Swin-T).
        depths: blocks per stage.
        num_heads: attention heads per stage.
        window_size: window side M.
        mlp_ratio: MLP hidden channels divided by the block's channels.
        drop_path_rate: stochastic depth of the last block (0.3 in mmseg's Swin-T UPerNet).
        out_indices: stages whose (normalised) outputs are returned.
        in_channels: image channels.
        patch_size: patch side of the patch embedding.
        qkv_bias: whether the q, k, v projections have a bias.
        qk_scale: logit scale override; None means head_dim ** -0.5.
        drop_rate: dropout after the patch embedding and inside the blocks.
        attn_drop_rate: dropout on attention weights.
        patch_norm: whether the patch embedding has a LayerNorm.

    Raises:
        TypeError: if a size, count or rate has the wrong type.
        ValueError: if ``depths`` and ``num_heads`` differ in length, a head count does not
            divide its stage's channels, an out index is out of range or repeated, or a rate
            is outside [0, 1).

    Examples:
        >>> model = SwinTransformer(
        ...     embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 4, 8), drop_path_rate=0.0
        ... ).eval()
        >>> [tuple(f.shape) for f in model(torch.randn(1, 3, 100, 75))]
        [(1, 16, 25, 19), (1, 32, 13, 10), (1, 64, 7, 5), (1, 128, 4, 3)]
    """

    def __init__(
        self,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.3,
        out_indices: Sequence[int] = (0, 1, 2, 3),
        *,
        in_channels: int = 3,
        patch_size: int = 4,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        patch_norm: bool = True,
    ) -> None:
        super().__init__()
        depths, num_heads = tuple(depths), tuple(num_heads)
        if len(depths) != len(num_heads) or not depths:
            raise ValueError(
                f"depths={depths} and num_heads={num_heads} must be non-empty and of equal length"
            )
        n = len(depths)
        self.num_features = [_check_int("embed_dim", embed_dim, 1) * 2**i for i in range(n)]
        for i, (c, heads) in enumerate(zip(self.num_features, num_heads, strict=True)):
            _check_int(f"num_heads[{i}]", heads, 1)
            if c % heads:
                raise ValueError(f"num_heads[{i}]={heads} does not divide stage {i}'s {c} channels")
        if not mlp_ratio > 0:
            raise ValueError(f"mlp_ratio must be > 0, got {mlp_ratio}")
        self.out_indices = tuple(out_indices)
        if any(not 0 <= i < n for i in self.out_indices) or len(set(self.out_indices)) != len(
            self.out_indices
        ):
            raise ValueError(f"out_indices={self.out_indices} must be distinct values in [0, {n})")
        _check_prob("drop_path_rate", drop_path_rate)
        self.patch_embed = PatchEmbed(
            patch_size, in_channels, embed_dim, nn.LayerNorm if patch_norm else None
        )
        self.pos_drop = nn.Dropout(_check_prob("drop_rate", drop_rate))
        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()
        self.layers = nn.ModuleList()
        for i in range(n):
            start = sum(depths[:i])
            self.layers.append(
                BasicLayer(
                    self.num_features[i],
                    depths[i],
                    num_heads[i],
                    window_size=window_size,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    qk_scale=qk_scale,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=rates[start : start + depths[i]],
                    downsample=i < n - 1,
                )
            )
        for i in self.out_indices:
            self.add_module(f"norm{i}", nn.LayerNorm(self.num_features[i]))
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Computes the feature pyramid.

        Args:
            x: images of shape (B, in_channels, H, W), any H and W.

        Returns:
            One map per out index, stage i of shape (B, embed_dim * 2**i, H_i, W_i), with
            H_0 = ⌈H/4⌉ and H_{i+1} = ⌈H_i/2⌉ (likewise W), each after its LayerNorm.
        """
        x = self.patch_embed(x).permute(0, 2, 3, 1)  # (B, C, H/4, W/4) -> (B, H/4, W/4, C)
        x = self.pos_drop(x)
        outs = []
        for i, layer in enumerate(self.layers):
            out, x = layer(x)
            if i in self.out_indices:
                out = getattr(self, f"norm{i}")(out)
                outs.append(out.permute(0, 3, 1, 2).contiguous())  # (B, H_i, W_i, C) -> NCHW
        return outs


def convert_official_checkpoint(checkpoint: Mapping[str, Any]) -> dict[str, Tensor]:
    """Backbone weights from an official Swin checkpoint, named for this module.

    Accepts the classification checkpoints (``{"model": ...}``) and the segmentation ones
    (``{"state_dict": ...}`` with a ``backbone.`` prefix), or a bare state dict. Drops what
    the backbone does not have: the classifier ``head``, the final ``norm`` of the
    classifier, decode heads, and ``attn_mask`` buffers. Names and shapes are otherwise
    identical, so no tensor is changed.

    Args:
        checkpoint: the object returned by ``torch.load(path, weights_only=True)``.

    Returns:
        A state dict for ``SwinTransformer.load_state_dict``; a classification checkpoint
        leaves ``norm0``..``norm3`` missing (``strict=False``), as mmseg does.

    Examples:
        >>> weights = {
        ...     "patch_embed.proj.bias": torch.zeros(96),
        ...     "layers.0.blocks.1.attn_mask": torch.zeros(64, 49, 49),
        ...     "norm.weight": torch.ones(768),
        ...     "head.weight": torch.zeros(1000, 768),
        ... }
        >>> ckpt = {"model": weights}  # the layout of swin_tiny_patch4_window7_224.pth
        >>> list(convert_official_checkpoint(ckpt))
        ['patch_embed.proj.bias']
    """
    state = checkpoint
    for key in ("model", "state_dict"):
        if isinstance(state.get(key), Mapping):
            state = state[key]
    has_backbone = any(k.startswith("backbone.") for k in state)
    out = {}
    for key, value in state.items():
        if has_backbone:
            if not key.startswith("backbone."):
                continue  # decode and auxiliary heads of a segmentor
            key = key[len("backbone.") :]
        if key.startswith(("head.", "norm.")) or key.endswith("attn_mask"):
            continue
        out[key] = value
    return out
