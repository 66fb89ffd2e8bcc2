r"""The pyramid pooling module (PPM) of PSPNet, and PSPNet's decode head.

For each pool scale $s$, a branch average-pools the feature map $x$ of shape (B, C, H, W) to
an $s \times s$ grid of bins, reduces it to ``channels`` channels with a 1×1 convolution,
normalization and ReLU, and upsamples it bilinearly back to $H \times W$. The output is the
input concatenated with the $S$ branches along the channels:

$$
y = \mathrm{concat}\left(x, u_{s_1}(x), \dots, u_{s_S}(x)\right), \qquad
C_{\mathrm{out}} = C + S \cdot C'
$$

where $C'$ is ``channels``. Zhao et al. (PSPNet, CVPR 2017) use $s \in \{1, 2, 3, 6\}$ and
$C' = C / 4$ on ResNet's 2048 channels: $2048 + 4 \cdot 512 = 4096$.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from knowledge.registry import MODELS, norm_factory

__all__ = ["PPM", "PSPHead", "conv_norm_relu"]

NormLayer = Callable[[int], nn.Module] | Mapping[str, Any] | None


def _check_channels(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def _check_pool_scales(pool_scales: Sequence[int]) -> tuple[int, ...]:
    if isinstance(pool_scales, int) or not isinstance(pool_scales, Sequence):
        raise TypeError(f"pool_scales must be a sequence of ints, got {pool_scales!r}")
    scales = tuple(pool_scales)
    if not scales:
        raise ValueError("pool_scales must not be empty")
    for s in scales:
        if isinstance(s, bool) or not isinstance(s, int) or s < 1:
            raise ValueError(f"pool_scales must be ints >= 1, got {pool_scales!r}")
    return scales


def conv_norm_relu(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    norm_layer: NormLayer = nn.BatchNorm2d,
    dilation: int = 1,
) -> nn.Sequential:
    """Conv2d (``bias=False`` when a norm follows), norm and ReLU: mmcv's ``ConvModule``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: an odd kernel size; the padding ``kernel_size // 2 * dilation`` keeps
            H and W.
        norm_layer: a factory ``C -> module``, a norm config dict, or None for no norm
            (the convolution then has a bias).
        dilation: spacing between kernel taps (1 = an ordinary convolution).

    Returns:
        ``nn.Sequential`` with children ``conv``, ``norm`` (unless None) and ``relu``.

    Examples:
        >>> block = conv_norm_relu(8, 4, 3)
        >>> [name for name, _ in block.named_children()]
        ['conv', 'norm', 'relu']
        >>> block.conv.padding, block.conv.bias is None
        ((1, 1), True)
        >>> conv_norm_relu(8, 4, 3, dilation=2).conv.padding  # 3x3 taps spread over 5x5
        (2, 2)
    """
    if isinstance(dilation, bool) or not isinstance(dilation, int) or dilation < 1:
        raise ValueError(f"dilation must be an int >= 1, got {dilation!r}")
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layers["conv"] = nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size,
        padding=kernel_size // 2 * dilation,
        dilation=dilation,
        bias=norm_layer is None,
    )
    if norm_layer is not None:
        layers["norm"] = norm_factory(norm_layer)(out_channels)
    layers["relu"] = nn.ReLU(inplace=True)
    return nn.Sequential(layers)


@MODELS.register()
class PPM(nn.Module):
    r"""Pyramid pooling module: multi-scale pooled context, concatenated with the input.

    Each branch is adaptive average pooling to $s \times s$, a 1×1 convolution to
    ``channels`` channels (no bias), the norm, ReLU, and bilinear upsampling to the input
    size. Unlike mmseg's ``PPM``, which returns the list of branch outputs and leaves the
    concatenation to ``PSPHead``, this returns the concatenation ``[x, branch_1, ...]`` as
    in the PSPNet paper.

    Args:
        in_channels: channels C of the input.
        channels: channels C' of each branch; PSPNet uses C / len(pool_scales).
        pool_scales: output grid sizes of the branches' adaptive pooling.
        norm_layer: a factory ``C -> module`` (default BatchNorm2d), a norm config dict
            such as ``dict(type="SyncBN")``, or None (no norm; the convolutions get a bias).
        align_corners: passed to the bilinear upsampling.

    Raises:
        TypeError: if a channel count is not an int or ``pool_scales`` not a sequence.
        ValueError: if a channel count or a pool scale is < 1, or ``pool_scales`` is empty;
            in ``forward``, if the input is not (B, in_channels, H, W).

    Examples:
        >>> import torch
        >>> ppm = PPM(64, 16).eval()
        >>> ppm(torch.randn(1, 64, 13, 17)).shape  # 64 + 4 * 16 channels
        torch.Size([1, 128, 13, 17])
        >>> [tuple(stage(torch.zeros(1, 64, 13, 17)).shape[2:]) for stage in ppm.stages]
        [(1, 1), (2, 2), (3, 3), (6, 6)]
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        *,
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        norm_layer: NormLayer = nn.BatchNorm2d,
        align_corners: bool = False,
    ) -> None:
        super().__init__()
        _check_channels("in_channels", in_channels)
        _check_channels("channels", channels)
        self.pool_scales = _check_pool_scales(pool_scales)
        self.in_channels = in_channels
        self.channels = channels
        self.align_corners = align_corners
        self.out_channels = in_channels + len(self.pool_scales) * channels
        make_norm = None if norm_layer is None else norm_factory(norm_layer)
        self.stages = nn.ModuleList()
        for s in self.pool_scales:
            branch = conv_norm_relu(in_channels, channels, 1, norm_layer=make_norm)
            # (B, C, H, W) -> pool (B, C, s, s) -> conv, norm, relu (B, C', s, s)
            layers = [("pool", nn.AdaptiveAvgPool2d(s)), *branch.named_children()]
            self.stages.append(nn.Sequential(OrderedDict(layers)))

    def forward(self, x: Tensor) -> Tensor:
        """Applies the module.

        Args:
            x: feature map of shape (B, in_channels, H, W).

        Returns:
            Feature map of shape (B, in_channels + len(pool_scales) * channels, H, W):
            the input first, then the branches in the order of ``pool_scales``.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"PPM expects input of shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        size = x.shape[-2:]
        outs = [x]
        for stage in self.stages:
            pooled = stage(x)  # (B, C', s, s)
            outs.append(
                F.interpolate(
                    pooled, size=size, mode="bilinear", align_corners=self.align_corners
                )  # (B, C', H, W)
            )
        return torch.cat(outs, dim=1)  # (B, C + S * C', H, W)


@MODELS.register()
class PSPHead(nn.Module):
    r"""PSPNet's decode head: PPM, a 3×3 bottleneck, dropout and a 1×1 classifier.

    The same layers as mmseg's ``PSPHead`` (``psp_modules``, ``bottleneck``,
    ``conv_seg``): the PPM output of $C + S \cdot C'$ channels goes through a 3×3
    convolution to $C'$ channels with norm and ReLU, then ``Dropout2d`` and a 1×1
    convolution (with bias) to the $K$ class logits, at the resolution of the input feature
    map (the segmentor upsamples them to the image).

    Args:
        in_channels: channels C of the input feature map.
        channels: channels C' of the PPM branches and of the bottleneck.
        num_classes: number of classes K.
        pool_scales: the PPM's pool scales.
        norm_layer: see [`PPM`][knowledge.blocks.PPM].
        dropout_ratio: probability of zeroing a channel before the classifier; 0 disables.
        align_corners: passed to the PPM's upsampling.

    Raises:
        TypeError: as for [`PPM`][knowledge.blocks.PPM], or if ``num_classes`` is not an
            int.
        ValueError: as for [`PPM`][knowledge.blocks.PPM], if ``num_classes`` < 1, or if
            ``dropout_ratio`` is outside [0, 1).

    Examples:
        >>> import torch
        >>> head = PSPHead(64, 16, num_classes=5).eval()
        >>> head(torch.randn(2, 64, 9, 9)).shape
        torch.Size([2, 5, 9, 9])
        >>> head.bottleneck.conv.in_channels  # 64 + 4 * 16
        128
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        num_classes: int,
        *,
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        norm_layer: NormLayer = nn.BatchNorm2d,
        dropout_ratio: float = 0.1,
        align_corners: bool = False,
    ) -> None:
        super().__init__()
        _check_channels("num_classes", num_classes)
        if not 0 <= dropout_ratio < 1:
            raise ValueError(f"dropout_ratio must be in [0, 1), got {dropout_ratio}")
        make_norm = None if norm_layer is None else norm_factory(norm_layer)
        self.num_classes = num_classes
        self.psp_modules = PPM(
            in_channels,
            channels,
            pool_scales=pool_scales,
            norm_layer=make_norm,
            align_corners=align_corners,
        )
        self.bottleneck = conv_norm_relu(
            self.psp_modules.out_channels, channels, 3, norm_layer=make_norm
        )
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Computes the class logits.

        Args:
            x: feature map of shape (B, in_channels, H, W), e.g. ResNet's last stage.

        Returns:
            Logits of shape (B, num_classes, H, W).
        """
        y = self.psp_modules(x)  # (B, C + S * C', H, W)
        y = self.bottleneck(y)  # (B, C', H, W)
        return self.conv_seg(self.dropout(y))  # (B, K, H, W)
