r"""UPerNet's decode head (``UPerHead``) with the semantics of mmseg's ``uper_head.py``.

Xiao et al. (UPerNet, ECCV 2018) put a pyramid pooling module on top of an FPN and fuse all
levels before classifying. Given backbone maps $C_1, \dots, C_4$ (strides 4 to 32) the head
runs five steps:

1. **PPM and laterals.** The top level goes through a PPM (the input concatenated with its
   pooled branches) and a 3×3 ``bottleneck``: $L_4 = B(\mathrm{PPM}(C_4))$. The other
   levels get 1×1 ``lateral_convs``: $L_i = \ell_i(C_i)$.
2. **Top-down.** From the top, $L_{i} \leftarrow L_i + \mathrm{up}(L_{i+1})$, bilinear to
   the size of $L_i$ (the FPN uses nearest).
3. **FPN convs.** $F_i = \phi_i(L_i)$, a 3×3 conv block, for every level but the top, which
   keeps $F_4 = L_4$.
4. **Fuse.** Every $F_i$ is resized bilinearly to the finest size and all are concatenated:
   $4 \times$ ``channels`` channels at stride 4.
5. **Classify.** A 3×3 ``fpn_bottleneck``, ``Dropout2d`` and the 1×1 ``conv_seg``.

Every convolution but ``conv_seg`` is conv + norm + ReLU
([`conv_norm_relu`][knowledge.blocks.conv_norm_relu]).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from knowledge.blocks import PPM, conv_norm_relu
from knowledge.registry import MODELS, norm_factory

__all__ = ["UPerHead"]

NormLayer = Callable[[int], nn.Module] | Mapping[str, Any] | None


@MODELS.register()
class UPerHead(nn.Module):
    r"""UPerNet decode head: PPM on the top level, an FPN with bilinear top-down, fusion.

    Attribute names are mmseg's (``psp_modules``, ``bottleneck``, ``lateral_convs``,
    ``fpn_convs``, ``fpn_bottleneck``, ``conv_seg``), and so is the parameter count: with
    ``in_channels=(96, 192, 384, 768)``, ``channels=512`` and 150 classes (Swin-T on ADE20K)
    the head has 31,497,366 parameters. One difference: [`PPM`][knowledge.blocks.PPM]
    returns ``[x, branches]`` already concatenated, which mmseg's ``psp_forward`` does by
    hand.

    Args:
        in_channels: channels of the input levels, finest first.
        channels: channels of every internal map (512 in mmseg's configs).
        num_classes: number of classes K.
        pool_scales: the PPM's pool scales.
        norm_layer: a factory ``C -> module``, a norm config dict such as
            ``dict(type="SyncBN")``, or None (no norm; the convolutions get a bias).
        dropout_ratio: ``Dropout2d`` probability before ``conv_seg``; 0 disables.
        align_corners: for every bilinear resize here, and for the segmentor's.
        in_index: which maps of the backbone's list to use, one per entry of
            ``in_channels``; None takes them all in order.
        loss_weight: weight of this head's loss in
            [`EncoderDecoder.loss`][knowledge.models.EncoderDecoder.loss].

    Raises:
        TypeError: if a channel count is not an int.
        ValueError: if ``in_channels`` is empty, ``in_index`` does not match it, or an
            argument is out of range; in ``forward``, if the selected maps do not match
            ``in_channels``.

    Examples:
        >>> import torch
        >>> head = UPerHead((8, 16, 32, 64), 16, 5).eval()
        >>> feats = [torch.randn(1, c, 32 // 2**i, 24 // 2**i) for i, c in
        ...          enumerate((8, 16, 32, 64))]
        >>> head(feats).shape  # at the finest level, stride 4
        torch.Size([1, 5, 32, 24])
        >>> head.fpn_bottleneck.conv.in_channels  # 4 levels x 16 channels
        64
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        channels: int,
        num_classes: int,
        *,
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        norm_layer: NormLayer = nn.BatchNorm2d,
        dropout_ratio: float = 0.1,
        align_corners: bool = False,
        in_index: Sequence[int] | None = None,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        in_channels = tuple(in_channels)
        if not in_channels:
            raise ValueError("in_channels must list at least one level")
        named = [(f"in_channels[{i}]", c) for i, c in enumerate(in_channels)]
        for name, value in [*named, ("channels", channels), ("num_classes", num_classes)]:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if in_index is None:
            in_index = range(len(in_channels))
        self.in_index = tuple(in_index)
        if len(self.in_index) != len(in_channels):
            raise ValueError(
                f"in_index={self.in_index} must have one entry per level of "
                f"in_channels={in_channels}"
            )
        if not 0 <= dropout_ratio < 1:
            raise ValueError(f"dropout_ratio must be in [0, 1), got {dropout_ratio}")
        if not loss_weight >= 0:
            raise ValueError(f"loss_weight must be >= 0, got {loss_weight!r}")
        self.loss_weight = float(loss_weight)
        norm = None if norm_layer is None else norm_factory(norm_layer)
        self.in_channels, self.channels, self.num_classes = in_channels, channels, num_classes
        self.align_corners = align_corners
        # Step 1: PPM and its 3x3 bottleneck on the top level; 1x1 laterals on the others.
        self.psp_modules = PPM(
            in_channels[-1],
            channels,
            pool_scales=pool_scales,
            norm_layer=norm,
            align_corners=align_corners,
        )
        self.bottleneck = conv_norm_relu(
            self.psp_modules.out_channels, channels, 3, norm_layer=norm
        )
        self.lateral_convs = nn.ModuleList(
            conv_norm_relu(c, channels, 1, norm_layer=norm) for c in in_channels[:-1]
        )
        # Step 3: 3x3 FPN convs, not on the top level.
        self.fpn_convs = nn.ModuleList(
            conv_norm_relu(channels, channels, 3, norm_layer=norm) for _ in in_channels[:-1]
        )
        # Step 5: fusion of all levels, dropout, classifier.
        self.fpn_bottleneck = conv_norm_relu(
            len(in_channels) * channels, channels, 3, norm_layer=norm
        )
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def _resize(self, x: Tensor, size: Sequence[int]) -> Tensor:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=self.align_corners)

    def select(self, inputs: Sequence[Tensor]) -> list[Tensor]:
        """Picks the levels ``inputs[in_index[i]]`` and checks their channels.

        Args:
            inputs: the backbone's maps.

        Returns:
            One map per entry of ``in_channels``, finest first.
        """
        if isinstance(inputs, Tensor):
            raise TypeError("UPerHead expects a list of feature maps, got a single tensor")
        xs = [inputs[i] for i in self.in_index]
        for i, (x, c) in enumerate(zip(xs, self.in_channels, strict=True)):
            if x.dim() != 4 or x.shape[1] != c:
                raise ValueError(
                    f"UPerHead level {i} (in_index {self.in_index[i]}) must have shape "
                    f"(B, {c}, H, W), got {tuple(x.shape)}"
                )
        return xs

    def psp_forward(self, x: Tensor) -> Tensor:
        """Step 1 on the top level: PPM, then the 3×3 bottleneck.

        Args:
            x: the top map, of shape (B, in_channels[-1], H, W).

        Returns:
            Map of shape (B, channels, H, W).
        """
        return self.bottleneck(self.psp_modules(x))  # (B, C + S * C', H, W) -> (B, C', H, W)

    def forward_features(self, inputs: Sequence[Tensor]) -> Tensor:
        """Steps 1 to 4 and the ``fpn_bottleneck``: the fused map before the classifier.

        Args:
            inputs: the backbone's maps (see ``in_index``).

        Returns:
            Map of shape (B, channels, H_1, W_1) at the finest level's size.
        """
        xs = self.select(inputs)
        # 1. laterals, and the PPM feature as the top "lateral"
        laterals = [conv(xs[i]) for i, conv in enumerate(self.lateral_convs)]
        laterals.append(self.psp_forward(xs[-1]))
        # 2. top-down: upsample the coarser map to the finer one's size and add
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + self._resize(laterals[i], laterals[i - 1].shape[2:])
        # 3. 3x3 convs on all levels but the top
        outs = [conv(laterals[i]) for i, conv in enumerate(self.fpn_convs)]
        outs.append(laterals[-1])
        # 4. resize to the finest level and concatenate
        size = outs[0].shape[2:]
        outs = [outs[0], *(self._resize(o, size) for o in outs[1:])]
        return self.fpn_bottleneck(torch.cat(outs, dim=1))  # (B, N * C', H_1, W_1) -> C'

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Computes the logits at the finest level's resolution.

        Args:
            inputs: the backbone's maps, finest first, e.g. Swin's four maps of shapes
                (B, 96·2^i, H/2^(i+2), W/2^(i+2)).

        Returns:
            Logits of shape (B, num_classes, H_1, W_1) (stride 4 for Swin and ResNet).
        """
        return self.conv_seg(self.dropout(self.forward_features(inputs)))  # 5. classify
