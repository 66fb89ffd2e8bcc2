r"""Output sizes of convolution and pooling layers, with torch's exact rules.

For one spatial dimension of size $H$, a layer with kernel size $k$, stride $s$, padding $p$
(on both sides) and dilation $d$ slides a window of effective size $k_{\mathrm{eff}} = d(k-1)+1$
over the padded input of size $H + 2p$. The number of window positions is

$$
H_{\mathrm{out}} = \left\lfloor \frac{H + 2p - d(k-1) - 1}{s} \right\rfloor + 1 .
$$

Pooling layers with ``ceil_mode=True`` round up instead, but drop the last window when it
would start inside the right padding. ``Conv2d``, ``MaxPool2d`` and ``AvgPool2d`` also differ
in which configurations they accept; `conv_output_size` reproduces all of it, and raises
``ValueError`` exactly where torch raises.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["conv_output_size", "same_padding"]

LayerKind = Literal["conv", "maxpool", "avgpool"]
_LAYERS = ("conv", "maxpool", "avgpool")
_IntOrTuple = int | tuple[int, ...]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_tuple(name: str, value: object, ndim: int) -> tuple[int, ...]:
    """Broadcasts an int to ``ndim`` dims; checks that a tuple has ``ndim`` ints."""
    if _is_int(value):
        return (value,) * ndim  # type: ignore[return-value]
    if isinstance(value, (tuple, list)) and all(_is_int(v) for v in value):
        if len(value) != ndim:
            raise ValueError(f"{name}={tuple(value)!r} has {len(value)} dims, expected {ndim}")
        return tuple(value)
    raise TypeError(f"{name} must be an int or a tuple of ints, got {value!r}")


def _ndim(**values: object) -> int:
    """Number of spatial dims: the length of the tuple arguments (they must agree), else 1."""
    lengths = {len(v) for v in values.values() if isinstance(v, (tuple, list))}
    if len(lengths) > 1:
        given = ", ".join(f"{k}={tuple(v)!r}" for k, v in values.items() if not _is_int(v))
        raise ValueError(f"tuple arguments must have the same length, got {given}")
    return lengths.pop() if lengths else 1


def _check_at_least(name: str, values: tuple[int, ...], low: int) -> None:
    for v in values:
        if v < low:
            raise ValueError(f"{name} must be >= {low}, got {v}")


def _one_dim(
    size: int,
    k: int,
    s: int,
    p: int,
    d: int,
    ceil_mode: bool,
    layer: LayerKind | None,
    where: str,
) -> int:
    """Output size along one dimension, after the layer-specific checks."""
    if layer in ("maxpool", "avgpool") and p > k // 2:
        # torch compares with the kernel size itself, ignoring dilation
        raise ValueError(
            f"padding={p}{where} is too large for {layer} with kernel_size={k}: pooling "
            f"requires padding <= kernel_size // 2 = {k // 2}"
        )
    k_eff = d * (k - 1) + 1
    numerator = size + 2 * p - k_eff
    if ceil_mode:
        out = -(-numerator // s) + 1  # ceiling division
        if (out - 1) * s >= size + p:  # the last window would start in the right padding
            out -= 1
    else:
        out = numerator // s + 1  # floor division, also for negative numerators
    if out < 1:
        raise ValueError(
            f"output size {out}{where} is < 1: the padded input (size + 2 * padding = "
            f"{size + 2 * p}) is too small for the effective kernel size "
            f"dilation * (kernel_size - 1) + 1 = {k_eff}"
            + (f" (stride={s}, ceil_mode=True)" if ceil_mode else "")
        )
    return out


def conv_output_size(
    size: _IntOrTuple,
    kernel_size: _IntOrTuple,
    stride: _IntOrTuple = 1,
    padding: _IntOrTuple | str = 0,
    dilation: _IntOrTuple = 1,
    ceil_mode: bool = False,
    *,
    layer: LayerKind | None = None,
) -> _IntOrTuple:
    r"""Spatial output size of a convolution or pooling layer, exactly as torch computes it.

    With the effective kernel size $k_{\mathrm{eff}} = d(k-1)+1$:

    $$
    H_{\mathrm{out}} = \left\lfloor \frac{H + 2p - k_{\mathrm{eff}}}{s} \right\rfloor + 1
    $$

    With ``ceil_mode=True`` (pooling only) the floor becomes a ceiling, minus one when the
    last window would start inside the right padding, i.e. when
    $(H_{\mathrm{out}} - 1)\,s \ge H + p$.

    ``layer`` adds the checks of one layer kind; they raise ``ValueError`` exactly where
    ``nn.Conv2d``, ``nn.MaxPool2d`` or ``nn.AvgPool2d`` raise ``RuntimeError``:

    - every kind: the output size must be at least 1;
    - ``"maxpool"`` and ``"avgpool"``: ``padding <= kernel_size // 2`` (the kernel size itself,
      even when ``MaxPool2d`` is dilated);
    - ``"conv"``: no ``ceil_mode``; ``padding`` may also be ``"valid"`` (0) or ``"same"``
      (stride 1 only; torch then pads asymmetrically when the effective kernel is even);
    - ``"avgpool"``: no dilation.

    Args:
        size: input size H, or a tuple such as (H, W).
        kernel_size: kernel size $k$, an int or one value per dimension.
        stride: stride $s$.
        padding: zero padding $p$ added on both sides, or ``"valid"``/``"same"`` for
            convolutions.
        dilation: spacing $d$ between kernel taps.
        ceil_mode: round up instead of down (pooling layers).
        layer: ``"conv"``, ``"maxpool"``, ``"avgpool"``, or ``None`` for the formula with only
            the output-size check.

    Returns:
        The output size: an int when every argument is an int, else a tuple with one entry
        per dimension.

    Raises:
        TypeError: if an argument is not an int (or tuple of ints).
        ValueError: on sizes < 1, negative padding, mismatched tuple lengths, an unknown
            ``layer``, or a configuration that the layer rejects (the message names the
            argument, its value and the rule).

    Examples:
        ResNet's stem, a 7x7 convolution with stride 2 and padding 3, halves 224:

        >>> conv_output_size(224, 7, stride=2, padding=3)  # (224 + 6 - 7) // 2 + 1
        112

        A 2x2 max-pool with stride 2 floors odd sizes, unless ``ceil_mode=True``:

        >>> conv_output_size(75, 2, 2), conv_output_size(75, 2, 2, ceil_mode=True)
        (37, 38)

        The ceiling rule drops a last window that would start in the right padding. Padded,
        the input below has indices 0..6 (0 and 6 are padding); windows start at 0, 3 and 6,
        and the one at 6 lies wholly in the padding, so torch keeps only two:

        >>> conv_output_size(5, 3, stride=3, padding=1, ceil_mode=True)  # not 3
        2

        Tuples give one size per dimension; dilation enlarges the kernel:

        >>> conv_output_size((64, 48), 3, padding=2, dilation=2)  # k_eff = 5
        (64, 48)

        Pooling rejects padding larger than half the kernel:

        >>> conv_output_size(32, 3, padding=2, layer="maxpool")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        ValueError: padding=2 is too large for maxpool ...: ... padding <= kernel_size // 2 = 1
    """
    if layer is not None and layer not in _LAYERS:
        raise ValueError(f"layer must be one of {_LAYERS} or None, got {layer!r}")
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"ceil_mode must be a bool, got {ceil_mode!r}")
    if ceil_mode and layer == "conv":
        raise ValueError("ceil_mode=True is not an option of convolutions (conv layers floor)")
    if isinstance(padding, str):
        return _string_padding(size, kernel_size, stride, padding, dilation, layer)
    ndim = _ndim(
        size=size, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation
    )
    sizes = _as_tuple("size", size, ndim)
    ks = _as_tuple("kernel_size", kernel_size, ndim)
    ss = _as_tuple("stride", stride, ndim)
    ps = _as_tuple("padding", padding, ndim)
    ds = _as_tuple("dilation", dilation, ndim)
    _check_at_least("size", sizes, 1)
    _check_at_least("kernel_size", ks, 1)
    _check_at_least("stride", ss, 1)
    _check_at_least("padding", ps, 0)
    _check_at_least("dilation", ds, 1)
    if layer == "avgpool" and any(d != 1 for d in ds):
        raise ValueError(f"avgpool has no dilation, got dilation={dilation!r}")
    out = tuple(
        _one_dim(*args, ceil_mode, layer, f" (dim {i})" if ndim > 1 else "")
        for i, args in enumerate(zip(sizes, ks, ss, ps, ds, strict=True))
    )
    scalar = all(_is_int(v) for v in (size, kernel_size, stride, padding, dilation))
    return out[0] if scalar else out


def _string_padding(
    size: _IntOrTuple,
    kernel_size: _IntOrTuple,
    stride: _IntOrTuple,
    padding: str,
    dilation: _IntOrTuple,
    layer: LayerKind | None,
) -> _IntOrTuple:
    """``padding="valid"`` or ``"same"``, as ``nn.Conv2d`` accepts them."""
    if layer in ("maxpool", "avgpool"):
        raise ValueError(f"{layer} takes an int padding, got padding={padding!r}")
    if padding == "valid":
        return conv_output_size(size, kernel_size, stride, 0, dilation, layer=layer)
    if padding != "same":
        raise ValueError(f"padding must be an int, 'valid' or 'same', got {padding!r}")
    ndim = _ndim(size=size, kernel_size=kernel_size, stride=stride, dilation=dilation)
    if any(s != 1 for s in _as_tuple("stride", stride, ndim)):
        raise ValueError(f"padding='same' needs stride 1 (as in torch), got stride={stride!r}")
    sizes = _as_tuple("size", size, ndim)
    _check_at_least("size", sizes, 1)
    _check_at_least("kernel_size", _as_tuple("kernel_size", kernel_size, ndim), 1)
    _check_at_least("dilation", _as_tuple("dilation", dilation, ndim), 1)
    return sizes if isinstance(size, (tuple, list)) else sizes[0]


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    r"""Symmetric padding that keeps the size at stride 1: $p = d(k-1)/2$.

    A stride-1 layer outputs $H + 2p - d(k-1)$ positions, so the size is kept exactly when
    $2p = d(k-1)$, i.e. when the effective kernel $d(k-1)+1$ is odd. For an even effective
    kernel (for example $k=2$, or $k=4$) no symmetric padding exists: ``nn.Conv2d`` with
    ``padding="same"`` then pads $\lfloor d(k-1)/2 \rfloor$ on the left (top) and one more on
    the right (bottom).

    Args:
        kernel_size: kernel size $k \ge 1$.
        dilation: dilation $d \ge 1$.

    Returns:
        The padding $p$ for each side.

    Raises:
        TypeError: if an argument is not an int.
        ValueError: if an argument is < 1, or the effective kernel is even.

    Examples:
        >>> same_padding(3), same_padding(7), same_padding(3, dilation=6)
        (1, 3, 6)
        >>> same_padding(4)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        ValueError: kernel_size=4 ... even effective kernel size 4: ... pads 1 before and 2 after)
    """
    for name, value in (("kernel_size", kernel_size), ("dilation", dilation)):
        if not _is_int(value):
            raise TypeError(f"{name} must be an int, got {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    total = dilation * (kernel_size - 1)
    if total % 2:
        raise ValueError(
            f"kernel_size={kernel_size} with dilation={dilation} has an even effective kernel "
            f"size {total + 1}: no symmetric padding keeps the size (torch's padding='same' "
            f"pads {total // 2} before and {total - total // 2} after)"
        )
    return total // 2
