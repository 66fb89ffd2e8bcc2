r"""Fully convolutional networks: FCN-32s, 16s and 8s on VGG-16, and mmseg's ``FCNHead``.

Long et al. (FCN, CVPR 2015) turn VGG-16 into a dense predictor in three moves:

1. **Convolutionalization.** The fully connected ``fc6`` (25088 → 4096) and ``fc7``
   (4096 → 4096) become a 7×7 and a 1×1 convolution with the same weights, so the network
   accepts any input size and outputs a map of class scores instead of one vector.
2. **Learned upsampling.** The stride-32 scores go back to the image size through a
   transposed convolution initialised to bilinear interpolation
   ([`bilinear_kernel`][knowledge.models.bilinear_kernel]).
3. **Skips.** 1×1 "score" layers on ``pool4`` (stride 16) and ``pool3`` (stride 8) are
   added to the upsampled coarse scores: FCN-16s fuses ``pool4``, FCN-8s also ``pool3``.

The paper pads the first convolution by 100 pixels and crops each upsampled map with fixed
offsets (5, 9 and 31 in FCN-8s). This module uses the pad-free variant: ``fc6`` is padded by
3, max pooling rounds up (``ceil_mode``, as Caffe does), and every transposed convolution
with factor $f$ has kernel $2f$, stride $f$ and padding $f/2$, which is the paper's crop by
$f/2$. Pixel $i$ of a stride-$s$ map then sits at $(i + \tfrac{1}{2})s - \tfrac{1}{2}$ in the
image, on every level, so each fusion crops only at the bottom and right, with offset 0.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from knowledge.blocks import conv_norm_relu
from knowledge.registry import MODELS, norm_factory

__all__ = ["FCN", "FCNHead", "VGG16Backbone", "bilinear_kernel"]

NormLayer = Callable[[int], nn.Module] | Mapping[str, Any] | None

# VGG-16 ("configuration D"): convolutions per stage; every stage ends with a 2x2 max pool.
_VGG16_DEPTHS = (2, 2, 3, 3, 3)
# Upsampling factor of the last transposed convolution of each variant.
_FINAL_FACTOR = {"32s": 32, "16s": 16, "8s": 8}


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def bilinear_kernel(channels: int, kernel_size: int) -> Tensor:
    r"""Weights that make a transposed convolution upsample each channel bilinearly.

    The 1-D filter has factor $f = \lceil k/2 \rceil$ and centre $c = f - 1$ for odd $k$,
    $c = f - \tfrac{1}{2}$ for even $k$ (FCN's ``upsample_filt``):

    $$
    w_{ij} = \left(1 - \frac{|i - c|}{f}\right)\left(1 - \frac{|j - c|}{f}\right)
    $$

    Channel $c$ maps only to channel $c$ (the other entries are 0). With kernel $2f$,
    stride $f$ and padding $f/2$ ($f$ even), ``nn.ConvTranspose2d`` with these weights equals
    ``F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=False)`` except in the
    outer $f/2$ rows and columns, where the transposed convolution sees zeros beyond the
    border and ``F.interpolate`` repeats the edge pixel.

    Args:
        channels: number of channels C (in and out).
        kernel_size: side k of the square kernel.

    Returns:
        Tensor of shape (C, C, k, k), the ``weight`` layout of ``nn.ConvTranspose2d``.

    Raises:
        TypeError: if an argument is not an int.
        ValueError: if an argument is < 1.

    Examples:
        >>> bilinear_kernel(1, 4)[0, 0, 0]  # factor 2: the 1-D filter is [1, 3, 3, 1] / 4
        tensor([0.0625, 0.1875, 0.1875, 0.0625])
        >>> w = bilinear_kernel(2, 4)
        >>> w.shape, bool(w[0, 1].abs().sum() == 0)  # no mixing between channels
        (torch.Size([2, 2, 4, 4]), True)
    """
    _check_positive_int("channels", channels)
    _check_positive_int("kernel_size", kernel_size)
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = torch.arange(kernel_size, dtype=torch.float64)
    filt_1d = 1 - (og - center).abs() / factor  # (k,)
    filt = torch.outer(filt_1d, filt_1d).to(torch.get_default_dtype())  # (k, k)
    weight = torch.zeros(channels, channels, kernel_size, kernel_size)
    idx = torch.arange(channels)
    weight[idx, idx] = filt
    return weight


def _bilinear_upsampler(channels: int, factor: int, *, learnable: bool) -> nn.ConvTranspose2d:
    """ConvTranspose2d(kernel 2f, stride f, padding f/2, no bias) initialised to bilinear."""
    up = nn.ConvTranspose2d(
        channels, channels, 2 * factor, stride=factor, padding=factor // 2, bias=False
    )
    with torch.no_grad():
        up.weight.copy_(bilinear_kernel(channels, 2 * factor))
    up.weight.requires_grad_(learnable)
    return up


def _crop(x: Tensor, size: Sequence[int]) -> Tensor:
    """Keeps the top-left ``size`` of a map that the upsampling made a little too large."""
    return x[..., : size[0], : size[1]]


@MODELS.register()
class VGG16Backbone(nn.Module):
    r"""VGG-16 with ``fc6`` and ``fc7`` as convolutions: the backbone of FCN.

    Five stages of 3×3 convolutions (padding 1) and ReLU, each closed by a 2×2 max pool with
    ``ceil_mode=True``; then ``fc6`` (7×7 convolution, padding 3), ReLU, dropout, ``fc7``
    (1×1 convolution), ReLU and dropout. Names follow the FCN Caffe models
    (``conv3_1``, ``pool4``, ``fc6``, ...). With the default widths it has the weights of
    torchvision's ``vgg16`` without the last classifier layer: 134,260,544 parameters. An
    input of side $L$ gives maps of side $\lceil L/8 \rceil$, $\lceil L/16 \rceil$ and
    $\lceil L/32 \rceil$.

    Args:
        in_channels: image channels.
        widths: channels of the five stages (VGG-16: 64, 128, 256, 512, 512).
        fc_channels: channels of ``fc6`` and ``fc7`` (4096).
        dropout: dropout probability after ``fc6`` and ``fc7`` (0.5 in VGG and FCN).

    Raises:
        TypeError: if a channel count is not an int.
        ValueError: if ``widths`` does not have 5 entries, a channel count is < 1, or
            ``dropout`` is outside [0, 1).

    Examples:
        >>> import torch
        >>> net = VGG16Backbone(widths=(4, 4, 8, 8, 8), fc_channels=16).eval()
        >>> [tuple(f.shape) for f in net(torch.randn(1, 3, 100, 75))]  # pool3, pool4, fc7
        [(1, 8, 13, 10), (1, 8, 7, 5), (1, 16, 4, 3)]
    """

    def __init__(
        self,
        in_channels: int = 3,
        *,
        widths: Sequence[int] = (64, 128, 256, 512, 512),
        fc_channels: int = 4096,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        widths = tuple(widths)
        if len(widths) != len(_VGG16_DEPTHS):
            raise ValueError(f"widths must have 5 entries (one per stage), got {widths!r}")
        for i, w in enumerate(widths):
            _check_positive_int(f"widths[{i}]", w)
        _check_positive_int("in_channels", in_channels)
        _check_positive_int("fc_channels", fc_channels)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.in_channels = in_channels
        self.widths = widths
        self.stages = nn.ModuleList()
        c_in = in_channels
        for s, (depth, width) in enumerate(zip(_VGG16_DEPTHS, widths, strict=True), start=1):
            layers: OrderedDict[str, nn.Module] = OrderedDict()
            for j in range(1, depth + 1):
                layers[f"conv{s}_{j}"] = nn.Conv2d(c_in, width, 3, padding=1)
                layers[f"relu{s}_{j}"] = nn.ReLU(inplace=True)
                c_in = width
            layers[f"pool{s}"] = nn.MaxPool2d(2, stride=2, ceil_mode=True)
            self.stages.append(nn.Sequential(layers))
        self.fc6 = nn.Conv2d(widths[-1], fc_channels, 7, padding=3)
        self.relu6 = nn.ReLU(inplace=True)
        self.drop6 = nn.Dropout(dropout)
        self.fc7 = nn.Conv2d(fc_channels, fc_channels, 1)
        self.relu7 = nn.ReLU(inplace=True)
        self.drop7 = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Computes the three maps that FCN uses.

        Args:
            x: images of shape (B, in_channels, H, W).

        Returns:
            ``[pool3, pool4, fc7]`` of shapes (B, widths[2], ⌈H/8⌉, ⌈W/8⌉),
            (B, widths[3], ⌈H/16⌉, ⌈W/16⌉) and (B, fc_channels, ⌈H/32⌉, ⌈W/32⌉).
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"VGG16Backbone expects images of shape (B, {self.in_channels}, H, W), "
                f"got {tuple(x.shape)}"
            )
        outs = []
        for stage in self.stages:
            x = stage(x)  # (B, C_s, H_s, W_s) with H_s = ceil(H_{s-1} / 2)
            outs.append(x)
        y = self.drop6(self.relu6(self.fc6(x)))  # 7x7 conv, padding 3: size kept
        y = self.drop7(self.relu7(self.fc7(y)))  # 1x1 conv
        return [outs[2], outs[3], y]


@MODELS.register()
class FCN(nn.Module):
    r"""FCN-32s, FCN-16s or FCN-8s on a randomly initialised VGG-16.

    ``score_fr`` turns ``fc7`` into $K$ class scores at stride 32. FCN-32s upsamples them
    32× in one step. FCN-16s first upsamples 2× (``upscore2``), adds ``score_pool4``
    (a 1×1 convolution on ``pool4``) and upsamples the sum 16×; FCN-8s adds
    ``score_pool3`` after one more 2× step (``upscore_pool4``) and upsamples 8×:

    $$
    s_{16} = \mathrm{up}_2(s_{32}) + W_4 * p_4, \qquad
    s_{8} = \mathrm{up}_2(s_{16}) + W_3 * p_3, \qquad
    y = \mathrm{up}_8(s_8)
    $$

    Every ``up`` is a transposed convolution initialised to bilinear; the 2× ones learn, the
    final ``upscore`` stays fixed (``requires_grad=False``), and the score layers on the
    pools start at zero, all as in the paper. Each upsampled map is cropped at its bottom
    and right to the size of the map it is added to (see the module notes).

    Args:
        num_classes: number of classes K (21 for PASCAL VOC).
        variant: ``"32s"``, ``"16s"`` or ``"8s"``.
        in_channels: image channels.
        widths: channels of the five VGG stages.
        fc_channels: channels of ``fc6`` and ``fc7``.
        dropout: dropout after ``fc6`` and ``fc7``.

    Raises:
        TypeError: if ``num_classes`` is not an int.
        ValueError: if ``variant`` is unknown or an argument is out of range; in
            ``forward``, if the input is not (B, in_channels, H, W).

    Examples:
        >>> import torch
        >>> net = FCN(5, variant="8s", widths=(4, 4, 8, 8, 8), fc_channels=16).eval()
        >>> net(torch.randn(1, 3, 100, 75)).shape  # scores at the input size
        torch.Size([1, 5, 100, 75])
        >>> net.upscore.kernel_size, net.upscore.stride, net.upscore.padding
        ((16, 16), (8, 8), (4, 4))
    """

    def __init__(
        self,
        num_classes: int,
        *,
        variant: str = "8s",
        in_channels: int = 3,
        widths: Sequence[int] = (64, 128, 256, 512, 512),
        fc_channels: int = 4096,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        _check_positive_int("num_classes", num_classes)
        if variant not in _FINAL_FACTOR:
            raise ValueError(f"variant must be one of {sorted(_FINAL_FACTOR)}, got {variant!r}")
        self.num_classes = num_classes
        self.variant = variant
        self.backbone = VGG16Backbone(
            in_channels, widths=widths, fc_channels=fc_channels, dropout=dropout
        )
        w = self.backbone.widths
        self.score_fr = nn.Conv2d(fc_channels, num_classes, 1)
        if variant in ("16s", "8s"):
            self.upscore2 = _bilinear_upsampler(num_classes, 2, learnable=True)
            self.score_pool4 = self._zero_score(w[3], num_classes)
        if variant == "8s":
            self.upscore_pool4 = _bilinear_upsampler(num_classes, 2, learnable=True)
            self.score_pool3 = self._zero_score(w[2], num_classes)
        self.upscore = _bilinear_upsampler(num_classes, _FINAL_FACTOR[variant], learnable=False)

    @staticmethod
    def _zero_score(in_channels: int, num_classes: int) -> nn.Conv2d:
        conv = nn.Conv2d(in_channels, num_classes, 1)
        nn.init.zeros_(conv.weight)  # the new skip starts silent: the net begins as the coarser one
        nn.init.zeros_(conv.bias)
        return conv

    def forward(self, x: Tensor) -> Tensor:
        """Computes class scores at the input size.

        Args:
            x: images of shape (B, in_channels, H, W), any H and W.

        Returns:
            Scores (logits) of shape (B, num_classes, H, W).
        """
        pool3, pool4, fc7 = self.backbone(x)
        score = self.score_fr(fc7)  # (B, K, H/32, W/32), sizes rounded up
        if self.variant in ("16s", "8s"):
            up = _crop(self.upscore2(score), pool4.shape[-2:])  # (B, K, H/16, W/16)
            score = up + self.score_pool4(pool4)
        if self.variant == "8s":
            up = _crop(self.upscore_pool4(score), pool3.shape[-2:])  # (B, K, H/8, W/8)
            score = up + self.score_pool3(pool3)
        return _crop(self.upscore(score), x.shape[-2:])  # (B, K, H, W)


@MODELS.register()
class FCNHead(nn.Module):
    r"""mmseg's ``FCNHead``: convolutions on one backbone level, then a 1×1 classifier.

    ``num_convs`` conv–norm–ReLU blocks (``convs``) map ``in_channels`` to ``channels``; with
    ``concat_input`` the input is concatenated with their output and fused by one more block
    (``conv_cat``); then ``Dropout2d`` and ``conv_seg`` (1×1, with bias) give the logits at
    the resolution of the chosen level. Used alone on a dilated backbone, and as the
    auxiliary head of UPerNet (mmseg's Swin config: ``in_channels=384, in_index=2,
    channels=256, num_convs=1, concat_input=False``), whose loss only helps training.

    Args:
        in_channels: channels of the selected input level.
        channels: channels of the convolutions.
        num_classes: number of classes K.
        num_convs: number of conv blocks; 0 needs ``in_channels == channels``.
        kernel_size: odd kernel size of the blocks.
        concat_input: whether to fuse ``[input, convs(input)]`` with ``conv_cat``.
        dropout_ratio: ``Dropout2d`` probability before ``conv_seg``; 0 disables.
        norm_layer: a factory ``C -> module``, a norm config dict such as
            ``dict(type="SyncBN")``, or None (no norm; the convolutions get a bias).
        in_index: which level to use when given a list of maps.
        align_corners: how the segmentor resizes this head's logits.
        dilation: dilation of the ``convs`` blocks (mmseg's ``dilation``; ``conv_cat`` is
            never dilated). A dilated head widens its receptive field at the same
            resolution, as on the stride-8 maps of a dilated ResNet.
        loss_weight: weight of this head's loss in
            [`EncoderDecoder.loss`][knowledge.models.EncoderDecoder.loss] (mmseg's
            ``loss_decode=dict(loss_weight=...)``; 0.4 for an auxiliary head).

    Raises:
        TypeError: if a channel count or ``in_index`` is not an int.
        ValueError: if an argument is out of range; in ``forward``, if the selected map is
            not (B, in_channels, H, W).

    Examples:
        >>> import torch
        >>> aux = FCNHead(384, 256, 150, num_convs=1, concat_input=False, in_index=2).eval()
        >>> feats = [torch.randn(1, c, 64 // 2**i, 64 // 2**i) for i, c in
        ...          enumerate((96, 192, 384, 768))]
        >>> aux(feats).shape  # the stride-16 level
        torch.Size([1, 150, 16, 16])
        >>> sum(p.numel() for p in aux.parameters())  # 384*256*9 + 2*256 + 256*150 + 150
        923798
        >>> FCNHead(8, 8, 3, num_convs=2, dilation=6).convs[1].conv.padding
        (6, 6)
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        num_classes: int,
        *,
        num_convs: int = 2,
        kernel_size: int = 3,
        concat_input: bool = True,
        dropout_ratio: float = 0.1,
        norm_layer: NormLayer = nn.BatchNorm2d,
        in_index: int = -1,
        align_corners: bool = False,
        dilation: int = 1,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("channels", channels)):
            _check_positive_int(name, value)
        _check_positive_int("num_classes", num_classes)
        if isinstance(num_convs, bool) or not isinstance(num_convs, int) or num_convs < 0:
            raise ValueError(f"num_convs must be an int >= 0, got {num_convs!r}")
        if num_convs == 0 and in_channels != channels:
            raise ValueError(
                f"num_convs=0 passes the input through, so in_channels ({in_channels}) must "
                f"equal channels ({channels})"
            )
        if _check_positive_int("kernel_size", kernel_size) % 2 == 0:
            raise ValueError(f"kernel_size must be odd to keep H and W, got {kernel_size}")
        if not 0 <= dropout_ratio < 1:
            raise ValueError(f"dropout_ratio must be in [0, 1), got {dropout_ratio}")
        if isinstance(in_index, bool) or not isinstance(in_index, int):
            raise TypeError(f"in_index must be an int, got {in_index!r}")
        if isinstance(dilation, bool) or not isinstance(dilation, int) or dilation < 1:
            raise ValueError(f"dilation must be an int >= 1, got {dilation!r}")
        if not loss_weight >= 0:
            raise ValueError(f"loss_weight must be >= 0, got {loss_weight!r}")
        self.loss_weight = float(loss_weight)
        make_norm = None if norm_layer is None else norm_factory(norm_layer)
        self.in_channels, self.channels, self.num_classes = in_channels, channels, num_classes
        self.in_index, self.concat_input, self.align_corners = in_index, concat_input, align_corners
        blocks = [
            conv_norm_relu(
                in_channels if i == 0 else channels,
                channels,
                kernel_size,
                norm_layer=make_norm,
                dilation=dilation,
            )
            for i in range(num_convs)
        ]
        self.convs = nn.Sequential(*blocks) if blocks else nn.Identity()
        if concat_input:
            self.conv_cat = conv_norm_relu(
                in_channels + channels, channels, kernel_size, norm_layer=make_norm
            )
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def forward(self, inputs: Tensor | Sequence[Tensor]) -> Tensor:
        """Computes the logits on one level.

        Args:
            inputs: a feature map of shape (B, in_channels, H, W), or a list of maps from
                which ``inputs[in_index]`` is taken.

        Returns:
            Logits of shape (B, num_classes, H, W).
        """
        x = inputs if isinstance(inputs, Tensor) else inputs[self.in_index]
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"FCNHead expects a map of shape (B, {self.in_channels}, H, W) (in_index="
                f"{self.in_index}), got {tuple(x.shape)}"
            )
        feats = self.convs(x)  # (B, channels, H, W)
        if self.concat_input:
            feats = self.conv_cat(torch.cat([x, feats], dim=1))  # (B, in + channels) -> channels
        return self.conv_seg(self.dropout(feats))  # (B, K, H, W)
