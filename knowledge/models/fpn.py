r"""Feature pyramid network (FPN) with the semantics of ``torchvision.ops.FeaturePyramidNetwork``.

A backbone gives maps $C_2, \dots, C_5$ whose resolution halves and whose semantics grow
from level to level. Lin et al. (FPN, CVPR 2017) give every level strong semantics at its
own resolution with a **top-down pathway**: starting from the coarsest level, each merged
map is upsampled (nearest neighbour) to the size of the next finer level and added to that
level's 1×1 **lateral** projection; a 3×3 convolution then smooths each sum:

$$
M_5 = L_5(C_5), \qquad
M_i = L_i(C_i) + \mathrm{up}_{\mathrm{nearest}}(M_{i+1}), \qquad
P_i = S_i(M_i)
$$

with all $P_i$ at ``out_channels`` channels. An optional $P_6$ is $P_5$ subsampled by a
max pool with kernel 1 and stride 2 (torchvision's ``LastLevelMaxPool``; Faster R-CNN
uses it for the largest anchors).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from knowledge.registry import MODELS, norm_factory

__all__ = ["FPN"]

NormLayer = Callable[[int], nn.Module] | Mapping[str, Any] | None


def _conv_norm(in_channels: int, out_channels: int, kernel_size: int, norm: Any) -> nn.Sequential:
    """Conv2d (bias only without a norm) and an optional norm, without activation."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layers["conv"] = nn.Conv2d(
        in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=norm is None
    )
    if norm is not None:
        layers["norm"] = norm(out_channels)
    return nn.Sequential(layers)


@MODELS.register()
class FPN(nn.Module):
    r"""Feature pyramid network: 1×1 laterals, nearest top-down, 3×3 outputs, optional P6.

    The layers and the computation are those of torchvision's ``FeaturePyramidNetwork``
    with ``extra_blocks=LastLevelMaxPool()``; only the names differ
    (``lateral_convs.{i}.conv`` for ``inner_blocks.{i}.0``, ``fpn_convs.{i}.conv`` for
    ``layer_blocks.{i}.0``, as in mmdet). The weights are initialised like torchvision's
    (Kaiming uniform with $a = 1$, zero bias). The top-down upsampling goes to the exact size
    of the finer level, so odd sizes (from a stride-2 layer on an odd map) work.

    Args:
        in_channels_list: channels of the input levels, finest first.
        out_channels: channels of every output level.
        extra_max_pool: append $P_6$ = ``max_pool2d(P_top, kernel_size=1, stride=2)``.
        norm_layer: None (torchvision's default: convolutions with bias), a factory
            ``C -> module`` or a norm config dict, applied after every convolution.

    Raises:
        TypeError: if a channel count is not an int.
        ValueError: if ``in_channels_list`` is empty or a channel count is < 1; in
            ``forward``, if the inputs do not match ``in_channels_list``.

    Examples:
        >>> import torch
        >>> fpn = FPN([8, 16, 32], 4).eval()
        >>> feats = [torch.randn(1, 8, 25, 19), torch.randn(1, 16, 13, 10),
        ...          torch.randn(1, 32, 7, 5)]
        >>> [tuple(p.shape) for p in fpn(feats)]  # P3, P4, P5 and the max-pooled P6
        [(1, 4, 25, 19), (1, 4, 13, 10), (1, 4, 7, 5), (1, 4, 4, 3)]
        >>> list(fpn(dict(c3=feats[0], c4=feats[1], c5=feats[2])))  # names kept, "pool" added
        ['c3', 'c4', 'c5', 'pool']
    """

    def __init__(
        self,
        in_channels_list: Sequence[int],
        out_channels: int,
        extra_max_pool: bool = True,
        *,
        norm_layer: NormLayer = None,
    ) -> None:
        super().__init__()
        channels = tuple(in_channels_list)
        if not channels:
            raise ValueError("in_channels_list must not be empty")
        named = [(f"in_channels_list[{i}]", c) for i, c in enumerate(channels)]
        for name, value in [*named, ("out_channels", out_channels)]:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        norm = None if norm_layer is None else norm_factory(norm_layer)
        self.in_channels_list = channels
        self.out_channels = out_channels
        self.extra_max_pool = extra_max_pool
        self.lateral_convs = nn.ModuleList(_conv_norm(c, out_channels, 1, norm) for c in channels)
        self.fpn_convs = nn.ModuleList(
            _conv_norm(out_channels, out_channels, 3, norm) for _ in channels
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=1)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(
        self, features: Sequence[Tensor] | Mapping[str, Tensor]
    ) -> list[Tensor] | OrderedDict[str, Tensor]:
        """Builds the pyramid.

        Args:
            features: maps of shapes (B, in_channels_list[i], H_i, W_i), finest first, as a
                list, or as a dict (torchvision's input).

        Returns:
            The maps $P_i$ of shapes (B, out_channels, H_i, W_i), finest first, then $P_6$
            of shape (B, out_channels, ⌈H_top/2⌉, ⌈W_top/2⌉) if ``extra_max_pool``; a list
            for a list input, an ``OrderedDict`` for a dict input (with $P_6$ under
            ``"pool"``, as in torchvision).
        """
        names = list(features) if isinstance(features, Mapping) else None
        xs = list(features.values()) if isinstance(features, Mapping) else list(features)
        if len(xs) != len(self.in_channels_list) or any(
            x.dim() != 4 or x.shape[1] != c for x, c in zip(xs, self.in_channels_list, strict=False)
        ):
            got = [tuple(x.shape) for x in xs]
            raise ValueError(
                f"FPN expects {len(self.in_channels_list)} maps with channels "
                f"{list(self.in_channels_list)} (B, C, H, W), got shapes {got}"
            )
        last = self.lateral_convs[-1](xs[-1])  # M_top
        outs = [self.fpn_convs[-1](last)]
        for i in range(len(xs) - 2, -1, -1):
            lateral = self.lateral_convs[i](xs[i])  # (B, out, H_i, W_i)
            top_down = F.interpolate(last, size=lateral.shape[-2:], mode="nearest")
            last = lateral + top_down  # M_i
            outs.insert(0, self.fpn_convs[i](last))  # P_i
        if self.extra_max_pool:
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2, padding=0))
        if names is None:
            return outs
        keys = [*names, "pool"] if self.extra_max_pool else names
        return OrderedDict(zip(keys, outs, strict=True))
