r"""Theoretical and effective receptive fields of convolutional stacks.

The receptive field of a feature-map position is the region of the *input image* that can
change its value. For a chain of layers it follows from three numbers per spatial axis,
updated layer by layer with the effective kernel $k_{\mathrm{eff}} = d(k-1)+1$, stride $s$
and (left) padding $p$:

$$
r_{\mathrm{out}} = r_{\mathrm{in}} + (k_{\mathrm{eff}} - 1)\, j_{\mathrm{in}}, \qquad
j_{\mathrm{out}} = j_{\mathrm{in}}\, s, \qquad
\mathrm{start}_{\mathrm{out}} = \mathrm{start}_{\mathrm{in}}
    + \left(\frac{k_{\mathrm{eff}} - 1}{2} - p\right) j_{\mathrm{in}}
$$

starting from $r = 1$, $j = 1$, $\mathrm{start} = 0$ at the input. $r$ is the size of the
region, $j$ (the jump, or effective stride) the distance in input pixels between two
neighbouring output positions, and $\mathrm{start}$ the input coordinate of the centre of
output position 0. `theoretical_receptive_field` computes this field;
`effective_receptive_field` measures how strongly each input pixel actually influences one
output position, from the gradient (Luo et al., 2016).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from knowledge.blocks.conv_shapes import conv_output_size

__all__ = [
    "ReceptiveField",
    "ReceptiveFieldRow",
    "effective_receptive_field",
    "theoretical_receptive_field",
]

_POOL_NDIM = {
    nn.MaxPool1d: 1,
    nn.MaxPool2d: 2,
    nn.MaxPool3d: 3,
    nn.AvgPool1d: 1,
    nn.AvgPool2d: 2,
    nn.AvgPool3d: 3,
}
# Layers that act on each position separately (normalization as at inference, with its
# running statistics; in training mode BatchNorm's batch statistics mix all positions).
_POINTWISE = (
    nn.modules.batchnorm._BatchNorm,
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Hardtanh,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Softplus,
    nn.Softsign,
    nn.LogSigmoid,
    nn.Threshold,
)
_GLOBAL = (
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
    nn.Linear,
)
_PER_SAMPLE_STATS = (nn.modules.instancenorm._InstanceNorm, nn.GroupNorm, nn.LayerNorm)


@dataclass(frozen=True)
class ReceptiveFieldRow:
    """The receptive field after one layer of a stack; tuples hold one value per axis.

    Attributes:
        name: the layer's qualified name in the module, e.g. ``"features.3"``.
        layer: the layer's class name, e.g. ``"Conv2d"``.
        kernel_size: kernel size $k$ (1 for pointwise layers).
        stride: stride $s$.
        padding: padding $p$ before the first position (top/left).
        dilation: dilation $d$.
        size: receptive-field size $r$ of one output position of this layer.
        jump: jump $j$, the input distance between neighbouring output positions.
        start: input coordinate of the centre of output position 0.
        output_size: the feature-map size after this layer, if ``input_size`` was given.

    Examples:
        >>> row = theoretical_receptive_field(nn.Conv2d(1, 1, (3, 5), stride=2)).rows[0]
        >>> row.layer, row.kernel_size, row.size, row.jump, row.start
        ('Conv2d', (3, 5), (3, 5), (2, 2), (1.0, 2.0))
    """

    name: str
    layer: str
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    size: tuple[int, ...]
    jump: tuple[int, ...]
    start: tuple[float, ...]
    output_size: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of a layer stack, with the per-layer trace.

    Attributes:
        size: receptive-field size $r$ per spatial axis, in input pixels.
        jump: effective stride $j$ per axis (the product of all strides).
        start: input coordinate of the centre of output position 0, per axis; position $i$
            is centred at ``start + i * jump``.
        rows: one `ReceptiveFieldRow` per layer, in order.
        input_size: the input size the trace was computed for, or ``None``.

    Examples:
        Two stride-2 convolutions: neighbouring outputs are 4 input pixels apart.

        >>> stack = nn.Sequential(nn.Conv1d(1, 1, 3, stride=2), nn.Conv1d(1, 1, 3, stride=2))
        >>> rf = theoretical_receptive_field(stack)
        >>> rf.size, rf.jump, rf.start  # r = 1 + 2 * 1 + 2 * 2; start = 1 + 1 * 2
        ((7,), (4,), (3.0,))
        >>> rf.region(0), rf.region(1)  # centres 3 and 7, +-3
        (((0, 6),), ((4, 10),))
    """

    size: tuple[int, ...]
    jump: tuple[int, ...]
    start: tuple[float, ...]
    rows: tuple[ReceptiveFieldRow, ...]
    input_size: tuple[int, ...] | None = None

    def region(self, index: int | tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        r"""Input pixels (first, last) seen by one output position, per axis.

        The interval is $\mathrm{start} + i\,j \pm (r - 1)/2$. Near the borders part of it
        lies in the padding, outside the image.

        Args:
            index: the output position, an int or one index per axis.

        Returns:
            One inclusive (first, last) pair of input coordinates per axis.

        Raises:
            ValueError: if ``index`` has the wrong number of entries.
        """
        idx = (index,) * len(self.size) if isinstance(index, int) else tuple(index)
        if len(idx) != len(self.size):
            raise ValueError(f"index={index!r} needs {len(self.size)} entries")
        return tuple(
            (round(c + i * j - (r - 1) / 2), round(c + i * j + (r - 1) / 2))
            for i, r, j, c in zip(idx, self.size, self.jump, self.start, strict=True)
        )

    def table(self) -> str:
        """The per-layer trace as a plain-text table (an axis pair prints as ``HxW``)."""
        header = ["layer", "type", "k", "s", "p", "d"]
        header += ["out"] if self.input_size is not None else []
        header += ["r", "j", "start"]
        lines = [header, ["input", "", "", "", "", ""]]
        if self.input_size is not None:
            lines[1].append(_fmt(self.input_size))
        lines[1] += ["1", "1", "0"]
        for row in self.rows:
            line = [row.name, row.layer]
            line += [_fmt(v) for v in (row.kernel_size, row.stride, row.padding, row.dilation)]
            if self.input_size is not None:
                line.append(_fmt(row.output_size or ()))
            line += [_fmt(row.size), _fmt(row.jump), _fmt(row.start)]
            lines.append(line)
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        return "\n".join(
            "  ".join(
                cell.rjust(w) if i > 1 else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
            for line in lines
        )

    def __str__(self) -> str:
        return self.table()


def _fmt(values: tuple[int | float, ...]) -> str:
    """One number when all axes agree, else ``HxW``; floats without a useless ``.0``."""
    texts = [f"{v:g}" for v in values]
    return texts[0] if len(set(texts)) == 1 else "x".join(texts)


def _layers(module: nn.Module, prefix: str = "") -> Iterator[tuple[str, nn.Module]]:
    """The leaves of nested ``nn.Sequential`` containers, with their qualified names."""
    if isinstance(module, nn.Sequential):
        # not named_children(): it skips repeats of one module, which forward runs each time
        for name, child in module._modules.items():
            if child is None:
                continue
            yield from _layers(child, f"{prefix}.{name}" if prefix else name)
    else:
        yield prefix or type(module).__name__, module


def _unsupported(name: str, layer: nn.Module) -> TypeError:
    kind = type(layer).__name__
    if isinstance(layer, _GLOBAL):
        why = "its output depends on every input position, so the field is the whole input"
    elif isinstance(layer, _PER_SAMPLE_STATS):
        why = "it normalizes with statistics over all positions, so every output sees the input"
    elif isinstance(layer, nn.modules.conv._ConvNd):
        why = "transposed convolutions (upsampling) are not supported"
    elif len(list(layer.children())) > 0:
        why = (
            "only nn.Sequential containers are traversed; blocks with branches (residual, "
            "PPM) have no single chain of layers, trace each path by hand"
        )
    else:
        why = "supported are Conv, MaxPool, AvgPool, BatchNorm, Dropout and activations"
    return TypeError(f"theoretical_receptive_field does not support layer {name!r} ({kind}): {why}")


def _tuple(value: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value),) * ndim


def _geometry(
    name: str, layer: nn.Module
) -> tuple[int, str | None, tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(ndim, kind for conv_output_size, kernel, stride, padding, dilation) of one layer."""
    if isinstance(layer, nn.modules.conv._ConvNd) and not layer.transposed:
        ndim = len(layer.kernel_size)
        k, s, d = layer.kernel_size, layer.stride, layer.dilation
        if layer.padding == "same":  # torch puts the odd pixel at the end
            p = tuple(di * (ki - 1) // 2 for ki, di in zip(k, d, strict=True))
            return ndim, "same", k, s, p, d
        if layer.padding == "valid":
            return ndim, "conv", k, s, (0,) * ndim, d
        return ndim, "conv", k, s, _tuple(layer.padding, ndim), d
    ndim = next((n for cls, n in _POOL_NDIM.items() if isinstance(layer, cls)), 0)
    if ndim:
        kind = "maxpool" if isinstance(layer, nn.modules.pooling._MaxPoolNd) else "avgpool"
        d = _tuple(layer.dilation, ndim) if kind == "maxpool" else (1,) * ndim
        k = _tuple(layer.kernel_size, ndim)
        s = _tuple(layer.stride if layer.stride is not None else layer.kernel_size, ndim)
        return ndim, kind, k, s, _tuple(layer.padding, ndim), d
    if isinstance(layer, _POINTWISE):
        return 0, None, (), (), (), ()
    raise _unsupported(name, layer)


def theoretical_receptive_field(
    module: nn.Module, *, input_size: int | tuple[int, ...] | None = None
) -> ReceptiveField:
    r"""Theoretical receptive field of a chain of layers, with a per-layer trace.

    Walks the (possibly nested) ``nn.Sequential`` in order and applies, per spatial axis,

    $$
    r_{\mathrm{out}} = r_{\mathrm{in}} + (k_{\mathrm{eff}} - 1)\, j_{\mathrm{in}}, \quad
    j_{\mathrm{out}} = j_{\mathrm{in}}\, s, \quad
    \mathrm{start}_{\mathrm{out}} = \mathrm{start}_{\mathrm{in}}
        + \left(\tfrac{k_{\mathrm{eff}} - 1}{2} - p\right) j_{\mathrm{in}}
    $$

    with $k_{\mathrm{eff}} = d(k-1)+1$. Convolutions (1d/2d/3d, including
    ``padding="same"``) and max/average pooling change the field; BatchNorm, dropout and
    elementwise activations leave it alone. Normalization is treated as at inference:
    BatchNorm in training mode, like InstanceNorm or GroupNorm, mixes all positions.

    The result is the *theoretical* field: every pixel in it can influence the output, but
    not equally (see `effective_receptive_field`).

    Args:
        module: an ``nn.Sequential`` (nested ones are flattened) or a single layer.
        input_size: optional input size (H, W) or int; the trace then also records each
            layer's output size, checked with `conv_output_size`.

    Returns:
        A `ReceptiveField` with ``size``, ``jump``, ``start`` (one value per spatial axis)
        and one row per layer; ``print`` it for a table.

    Raises:
        TypeError: on a layer that is not a Conv, pooling, BatchNorm, dropout or
            elementwise activation layer (the message names the layer and why).
        ValueError: if the layers disagree on the number of spatial axes, or a layer
            cannot be applied to ``input_size``.

    Examples:
        Two 3x3 convolutions see 5x5; a 2x2 stride-2 pool after them adds one more step
        of the old jump and doubles the jump:

        >>> stack = nn.Sequential(
        ...     nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        ...     nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        ...     nn.MaxPool2d(2),
        ... )
        >>> rf = theoretical_receptive_field(stack)
        >>> rf.size, rf.jump, rf.start  # r = 1 + 2 + 2 + 1; start = 0 + 0 + 0 + 0.5
        ((6, 6), (2, 2), (0.5, 0.5))
        >>> rf.region(0)  # output position 0 sees input rows/cols -2..3 (-2, -1: padding)
        ((-2, 3), (-2, 3))
        >>> print(theoretical_receptive_field(stack, input_size=32))
        layer  type       k  s  p  d  out  r  j  start
        input                          32  1  1      0
        0      Conv2d     3  1  1  1   32  3  1      0
        1      ReLU       1  1  0  1   32  3  1      0
        2      Conv2d     3  1  1  1   32  5  1      0
        3      ReLU       1  1  0  1   32  5  1      0
        4      MaxPool2d  2  2  0  1   16  6  2    0.5

        Global pooling has no finite field:

        >>> theoretical_receptive_field(nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1)))
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        TypeError: ... layer '1' (AdaptiveAvgPool2d): its output depends on every input position...
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    layers = [(name, layer, _geometry(name, layer)) for name, layer in _layers(module)]
    dims = {geo[0] for _, _, geo in layers if geo[0]}
    if isinstance(input_size, (tuple, list)):
        dims.add(len(input_size))
    if len(dims) > 1:
        found = ", ".join(
            f"{name!r} ({type(layer).__name__}): {geo[0]}" for name, layer, geo in layers if geo[0]
        )
        raise ValueError(f"layers disagree on the number of spatial axes: {found}")
    ndim = dims.pop() if dims else 2
    sizes: tuple[int, ...] | None = None
    if input_size is not None:
        sizes = _tuple(input_size, ndim)
        conv_output_size(sizes, 1)  # checks the type and that every entry is >= 1
    r, j, start = (1,) * ndim, (1,) * ndim, (0.0,) * ndim
    rows = []
    for name, layer, (layer_ndim, kind, k, s, p, d) in layers:
        if not layer_ndim:  # pointwise
            k, s, p, d = (1,) * ndim, (1,) * ndim, (0,) * ndim, (1,) * ndim
        k_eff = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d, strict=True))
        start = tuple(
            c + ((ke - 1) / 2 - pi) * ji for c, ke, pi, ji in zip(start, k_eff, p, j, strict=True)
        )
        r = tuple(ri + (ke - 1) * ji for ri, ke, ji in zip(r, k_eff, j, strict=True))
        j = tuple(ji * si for ji, si in zip(j, s, strict=True))
        if sizes is not None and kind is not None:
            ceil = bool(getattr(layer, "ceil_mode", False))
            pad: tuple[int, ...] | str = "same" if kind == "same" else p
            kind = "conv" if kind == "same" else kind
            try:
                sizes = _tuple(conv_output_size(sizes, k, s, pad, d, ceil, layer=kind), ndim)
            except ValueError as err:
                raise ValueError(f"layer {name!r} ({type(layer).__name__}): {err}") from None
        rows.append(
            ReceptiveFieldRow(
                name=name,
                layer=type(layer).__name__,
                kernel_size=tuple(k),
                stride=tuple(s),
                padding=tuple(p),
                dilation=tuple(d),
                size=r,
                jump=j,
                start=start,
                output_size=sizes,
            )
        )
    return ReceptiveField(
        size=r,
        jump=j,
        start=start,
        rows=tuple(rows),
        input_size=None if input_size is None else _tuple(input_size, ndim),
    )


def effective_receptive_field(
    module: nn.Module, x: Tensor, *, position: tuple[int, ...] | None = None
) -> Tensor:
    r"""Gradient magnitude of one output position with respect to every input pixel.

    Following Luo et al. (2016), the effective receptive field of output position $u$ is
    the map over input positions $v$

    $$
    E(v) = \sum_{b,c} \left| \frac{\partial \sum_{c'} y_{b,c',u}}{\partial x_{b,c,v}} \right| :
    $$

    back-propagate a gradient of 1 at $u$ in every output channel,
    0 elsewhere, and sum the absolute input gradients over the batch and input channels.
    Its support lies inside the theoretical receptive field (`theoretical_receptive_field`); with
    ReLU or max-pooling it can be strictly smaller, and even on a linear stack its mass
    concentrates near the centre.

    The module is run as it is (train or eval mode, its current weights).

    Args:
        module: any module mapping (B, C, *spatial) to (B, C', *spatial').
        x: floating input of shape (B, C, *spatial); for example a batch of images.
        position: the output position $u$, one index per spatial axis. Defaults to the
            centre, ``size // 2`` on each axis.

    Returns:
        A tensor with the input's spatial shape and dtype, non-negative.

    Raises:
        TypeError: if ``x`` is not a floating tensor.
        ValueError: if the output has fewer than 3 dims or ``position`` is outside it.

    Examples:
        Two 3x3 convolutions of ones: the centre output sums each input pixel as often as
        there are paths to it, the outer product of the binomial row [1, 2, 3, 2, 1]:

        >>> stack = nn.Sequential(nn.Conv2d(1, 1, 3, bias=False), nn.Conv2d(1, 1, 3, bias=False))
        >>> _ = [nn.init.ones_(conv.weight) for conv in stack]
        >>> erf = effective_receptive_field(stack, torch.zeros(1, 1, 7, 7))
        >>> erf[1:6, 1:6].int().tolist()[1:3]  # rows 2 and 3 of the 5x5 field
        [[2, 4, 6, 4, 2], [3, 6, 9, 6, 3]]
        >>> int(erf.sum()), int((erf > 0).sum())  # 9 * 9 paths; 5 * 5 pixels
        (81, 25)
    """
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating tensor of shape (B, C, *spatial), got {x!r:.60}")
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        y = module(x)
        if y.dim() < 3:
            raise ValueError(f"output shape {tuple(y.shape)} has no spatial axes")
        out_size = tuple(y.shape[2:])
        pos = tuple(s // 2 for s in out_size) if position is None else tuple(position)
        if len(pos) != len(out_size) or any(
            not 0 <= q < s for q, s in zip(pos, out_size, strict=True)
        ):
            raise ValueError(f"position={position!r} is outside the output size {out_size}")
        grad_out = torch.zeros_like(y)
        grad_out[(slice(None), slice(None), *pos)] = 1
        (grad,) = torch.autograd.grad(y, x, grad_out)
    return grad.abs().sum(dim=(0, 1))
