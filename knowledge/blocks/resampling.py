r"""Down- and upsampling: interpolation from scratch, transposed-conv overlap, pixel shuffle.

Both interpolations map output pixel $d$ back to a source coordinate along each axis and
read the input there. With $n_{in}$ input and $n_{out}$ output pixels, and $s$ the
source-per-output ratio (``1 / scale_factor`` when a scale factor is given and not
recomputed, else $n_{in} / n_{out}$):

- nearest copies pixel $\min(\lfloor d \cdot s \rfloor, n_{in} - 1)$;
- bilinear blends the two pixels around $u = s(d + \tfrac{1}{2}) - \tfrac{1}{2}$
  (clamped at 0), or around $u = d \cdot \frac{n_{in} - 1}{n_{out} - 1}$ with
  ``align_corners=True``.

The functions reproduce ``torch.nn.functional.interpolate`` on CPU, including the float
precision torch uses for the coordinates: nearest is bitwise equal, bilinear equal up to
the order of the additions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "icnr_",
    "interpolate_bilinear",
    "interpolate_nearest",
    "pixel_shuffle",
    "source_coordinates",
    "transposed_conv_overlap",
]

# torch's 2-D nearest kernel uses its channels-last implementation at or below this
# output H + W (ATen/native/cpu/UpSampleKernel.cpp, _use_channels_last_kernel_2d).
_SMALL_OUTPUT = 128


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_input(x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got {x.dim()}-D shape {tuple(x.shape)}")
    if min(x.shape[1:]) < 1:
        raise ValueError(
            f"x must have C, H and W >= 1 (only N may be 0), got shape {tuple(x.shape)}"
        )


def _pair(value: object, name: str) -> tuple[object, object]:
    if isinstance(value, (list, tuple, torch.Size)):
        if len(value) != 2:
            raise ValueError(f"{name} must be a number or a pair (H, W), got {value!r}")
        return value[0], value[1]
    return value, value


def _output_size(
    x: Tensor,
    size: int | Sequence[int] | None,
    scale_factor: float | Sequence[float] | None,
    recompute_scale_factor: bool | None,
) -> tuple[list[int], list[float | None]]:
    """Returns the output (H, W) and the scales torch hands to its kernel (None: use sizes)."""
    if recompute_scale_factor is not None and not isinstance(recompute_scale_factor, bool):
        raise TypeError(
            f"recompute_scale_factor must be None or a bool, got {recompute_scale_factor!r}"
        )
    if (size is None) == (scale_factor is None):
        raise ValueError(
            "exactly one of size and scale_factor must be given, got "
            f"size={size!r} and scale_factor={scale_factor!r}"
        )
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor=True has no meaning with an explicit size")
        out = list(_pair(size, "size"))
        if not all(_is_int(v) for v in out):
            raise TypeError(f"size must hold ints, got {size!r}")
        if min(out) < 1:
            raise ValueError(f"size must be positive, got {size!r}")
        return out, [None, None]
    scales = list(_pair(scale_factor, "scale_factor"))
    if not all(_is_real(v) for v in scales):
        raise TypeError(f"scale_factor must hold numbers, got {scale_factor!r}")
    if not all(math.isfinite(v) and v > 0 for v in scales):
        raise ValueError(f"scale_factor must be positive and finite, got {scale_factor!r}")
    # torch: output = floor(input * scale) in double precision.
    out = [math.floor(n * s) for n, s in zip(x.shape[2:], scales, strict=True)]
    if min(out) < 1:
        raise ValueError(
            f"scale_factor={scale_factor!r} turns input (H, W) = {tuple(x.shape[2:])} into "
            f"{tuple(out)}; every output size must be >= 1"
        )
    if recompute_scale_factor:
        return out, [None, None]  # the kernel then uses in / out, like with size=
    return out, [float(s) for s in scales]


def _opmath(dtype: torch.dtype) -> torch.dtype:
    """The precision torch computes coordinates in: double for double, else float."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _nearest_index(
    n_in: int, n_out: int, scale: float | None, opmath: torch.dtype, small_kernel: bool
) -> Tensor:
    """Source pixel of every output pixel, as torch's CPU nearest kernels pick it."""
    dst = torch.arange(n_out)
    if small_kernel:  # nearest_idx(): two exact shortcuts, then everything in float32
        if n_out == n_in:
            return dst
        if n_out == 2 * n_in:
            return dst // 2
        if scale is not None:
            s = torch.tensor(1.0 / scale, dtype=torch.float64).float()
        else:
            s = torch.tensor(float(n_in), dtype=torch.float32) / n_out
        real = dst.float() * s
    else:  # the generic kernel: scale and product in opmath, then floorf (float32)
        if scale is not None:
            s = torch.tensor(1.0 / scale, dtype=torch.float64).to(opmath)
        else:
            s = torch.tensor(float(n_in), dtype=opmath) / n_out
        real = (dst.to(opmath) * s).float()
    return real.floor().long().clamp(max=n_in - 1)


def interpolate_nearest(
    x: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    *,
    recompute_scale_factor: bool | None = None,
) -> Tensor:
    r"""Nearest-neighbour resize, bitwise equal to ``F.interpolate(mode="nearest")`` on CPU.

    Output pixel $d$ copies input pixel $\min(\lfloor d \cdot s \rfloor, n_{in} - 1)$ per
    axis, with $s = 1 / \text{scale\_factor}$ when a scale factor is given (and
    ``recompute_scale_factor`` is not True), otherwise $s = n_{in} / n_{out}$. Like torch,
    $s$ and the product are rounded to float32 (torch's generic kernel computes in float64
    for float64 input and rounds only the product), and torch's small-output kernel maps
    $n_{out} = n_{in}$ and $n_{out} = 2 n_{in}$ exactly. Values are only copied, never
    mixed, so integer label maps work directly (torch itself rejects int64).

    Args:
        x: input of shape (N, C, H, W), any dtype.
        size: output size, an int or (H, W).
        scale_factor: multiplier for (H, W), a number or a pair; the output size is
            $\lfloor n_{in} \cdot \text{scale\_factor} \rfloor$.
        recompute_scale_factor: if True, the kernel uses $n_{in} / n_{out}$ from the
            computed output size instead of $1 / \text{scale\_factor}$.

    Returns:
        Tensor of shape (N, C, H_out, W_out) with the dtype of ``x``.

    Raises:
        TypeError: if ``x`` is not a tensor or ``size``/``scale_factor`` have wrong types.
        ValueError: for a non-4-D or empty input, both or neither of ``size`` and
            ``scale_factor``, non-positive sizes or scales.

    Examples:
        >>> x = torch.tensor([[[[1, 2], [3, 4]]]])  # int64 labels are fine
        >>> interpolate_nearest(x, scale_factor=2)[0, 0]
        tensor([[1, 1, 2, 2],
                [1, 1, 2, 2],
                [3, 3, 4, 4],
                [3, 3, 4, 4]])
        >>> row = torch.arange(5.0).view(1, 1, 1, 5)
        >>> interpolate_nearest(row, size=(1, 3))  # floor(d * 5/3): pixels 0, 1, 3
        tensor([[[[0., 1., 3.]]]])
    """
    _check_input(x)
    (out_h, out_w), (s_h, s_w) = _output_size(x, size, scale_factor, recompute_scale_factor)
    n_in_h, n_in_w = x.shape[2], x.shape[3]
    small_kernel = out_h + out_w <= _SMALL_OUTPUT or (
        x.shape[1] > 3 and x.is_contiguous(memory_format=torch.channels_last)
    )
    opmath = _opmath(x.dtype)
    rows = _nearest_index(n_in_h, out_h, s_h, opmath, small_kernel).to(x.device)
    cols = _nearest_index(n_in_w, out_w, s_w, opmath, small_kernel).to(x.device)
    return x.index_select(2, rows).index_select(3, cols)  # (N, C, H, W) -> (N, C, H_out, W_out)


def source_coordinates(
    input_size: int,
    output_size: int,
    *,
    align_corners: bool = False,
    scale_factor: float | None = None,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    r"""Where each output pixel of a (bi)linear resize reads the input, along one axis.

    $$
    u_d = \begin{cases}
    d \cdot \frac{n_{in} - 1}{n_{out} - 1} & \text{align\_corners} \\
    \max\left(0,\ s\,(d + \tfrac{1}{2}) - \tfrac{1}{2}\right) & \text{otherwise}
    \end{cases}
    $$

    with $s = 1 / \text{scale\_factor}$ if given, else $n_{in} / n_{out}$ (``align_corners``
    ignores the scale factor). ``align_corners=True`` pins the centres of the corner pixels
    onto each other; ``False`` treats pixels as unit squares and aligns the image edges.

    Args:
        input_size: number of input pixels along the axis, $n_{in} \ge 1$.
        output_size: number of output pixels, $n_{out} \ge 1$.
        align_corners: the corner convention described above.
        scale_factor: the user's scale factor, used for $s$ unless ``align_corners``.
        dtype: floating dtype of the arithmetic (torch uses float32 for float32 input).

    Returns:
        Tensor of shape (output_size,) with the continuous source coordinates.

    Raises:
        TypeError: if a size is not an int.
        ValueError: if a size or ``scale_factor`` is not positive.

    Examples:
        >>> source_coordinates(4, 8).tolist()  # half-pixel centres; only 0 is clamped
        [0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.25]
        >>> source_coordinates(4, 7, align_corners=True).tolist()  # ends on pixel centres
        [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    """
    for name, value in (("input_size", input_size), ("output_size", output_size)):
        if not _is_int(value):
            raise TypeError(f"{name} must be an int, got {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if scale_factor is not None and not (math.isfinite(scale_factor) and scale_factor > 0):
        raise ValueError(f"scale_factor must be positive and finite, got {scale_factor!r}")
    dst = torch.arange(output_size, dtype=dtype)
    if align_corners:
        if output_size == 1:
            return torch.zeros(1, dtype=dtype)
        scale = torch.tensor(float(input_size - 1), dtype=dtype) / (output_size - 1)
        return dst * scale
    if scale_factor is not None:
        scale = torch.tensor(1.0 / scale_factor, dtype=torch.float64).to(dtype)
    else:
        scale = torch.tensor(float(input_size), dtype=dtype) / output_size
    # As in ATen: the scale is rounded to dtype, the coordinate is computed in double.
    u = scale.double() * (dst.double() + 0.5) - 0.5
    return u.clamp(min=0).to(dtype)


def _linear_weights(
    n_in: int, n_out: int, align_corners: bool, scale: float | None, dtype: torch.dtype
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Left/right source pixels and their weights, as torch's linear kernels compute them."""
    if n_out == n_in:  # torch copies; a scale factor such as 1.05 is ignored here
        idx = torch.arange(n_in)
        return idx, idx, torch.ones(n_in, dtype=dtype), torch.zeros(n_in, dtype=dtype)
    u = source_coordinates(
        n_in, n_out, align_corners=align_corners, scale_factor=scale, dtype=dtype
    )
    left = u.float().floor().long().clamp(max=n_in - 1)  # torch floors with floorf
    w_right = (u - left.to(dtype)).clamp(0, 1)
    right = left + (left < n_in - 1).long()
    return left, right, 1 - w_right, w_right


def interpolate_bilinear(
    x: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    *,
    align_corners: bool = False,
    recompute_scale_factor: bool | None = None,
) -> Tensor:
    r"""Bilinear resize, equal to ``F.interpolate(mode="bilinear")`` up to rounding.

    Along each axis, output pixel $d$ reads the source coordinate $u_d$ of
    [source_coordinates][knowledge.blocks.source_coordinates], splits it into
    $i = \lfloor u_d \rfloor$ and $\lambda = u_d - i$, and blends
    $(1 - \lambda)\, x_i + \lambda\, x_{i+1}$ (the last pixel is repeated at the border).
    Rows are blended first, then columns; the two 1-D passes give the same weights
    $(1 - \lambda_h)(1 - \lambda_w), \dots$ as the 2-D formula.

    Args:
        x: floating input of shape (N, C, H, W).
        size: output size, an int or (H, W).
        scale_factor: multiplier for (H, W), a number or a pair.
        align_corners: if True, corner pixel centres map onto each other.
        recompute_scale_factor: if True, use $n_{in} / n_{out}$ instead of
            $1 / \text{scale\_factor}$ for the coordinates.

    Returns:
        Tensor of shape (N, C, H_out, W_out) with the dtype of ``x``.

    Raises:
        TypeError: if ``x`` is not a floating tensor or an option has the wrong type.
        ValueError: for a non-4-D or empty input, both or neither of ``size`` and
            ``scale_factor``, non-positive sizes or scales.

    Examples:
        >>> x = torch.tensor([[[[0.0, 4.0]]]])
        >>> interpolate_bilinear(x, size=(1, 4))  # u = 0, 0.25, 0.75, 1
        tensor([[[[0., 1., 3., 4.]]]])
        >>> interpolate_bilinear(x, size=(1, 4), align_corners=True)  # u = 0, 1/3, 2/3, 1
        tensor([[[[0.0000, 1.3333, 2.6667, 4.0000]]]])
    """
    _check_input(x)
    if not x.is_floating_point():
        raise TypeError(
            f"bilinear interpolation needs a floating tensor, got dtype {x.dtype}; "
            "convert images with .float(), and resize label maps with interpolate_nearest"
        )
    if not isinstance(align_corners, bool):
        raise TypeError(f"align_corners must be a bool, got {align_corners!r}")
    (out_h, out_w), (s_h, s_w) = _output_size(x, size, scale_factor, recompute_scale_factor)
    dtype = _opmath(x.dtype)
    top, bottom, w_top, w_bottom = _linear_weights(x.shape[2], out_h, align_corners, s_h, dtype)
    left, right, w_left, w_right = _linear_weights(x.shape[3], out_w, align_corners, s_w, dtype)
    dev = x.device
    xc = x.to(dtype)
    rows = (  # (N, C, H, W) -> (N, C, H_out, W)
        xc.index_select(2, top.to(dev)) * w_top.to(dev)[:, None]
        + xc.index_select(2, bottom.to(dev)) * w_bottom.to(dev)[:, None]
    )
    out = (  # (N, C, H_out, W) -> (N, C, H_out, W_out)
        rows.index_select(3, left.to(dev)) * w_left.to(dev)
        + rows.index_select(3, right.to(dev)) * w_right.to(dev)
    )
    return out.to(x.dtype)


def transposed_conv_overlap(
    input_size: int, kernel_size: int, stride: int, *, padding: int = 0
) -> Tensor:
    r"""Counts the (input pixel, kernel tap) pairs that hit each output of a 1-D transposed conv.

    Input pixel $i$ paints its kernel at output positions $i \cdot \text{stride} + k -
    \text{padding}$, $k = 0, \dots, K - 1$. When $K$ is not a multiple of the stride,
    neighbouring output pixels collect different numbers of contributions, which is the
    checkerboard artefact (Odena et al., 2016). A 2-D kernel's count is the outer product
    of the two 1-D counts.

    Args:
        input_size: input length, at least 1.
        kernel_size: kernel length $K \ge 1$.
        stride: stride $\ge 1$.
        padding: output pixels cropped from each end, $\ge 0$.

    Returns:
        int64 tensor of length $(\text{input\_size} - 1)\,\text{stride} - 2\,\text{padding}
        + K$, the output length of ``nn.ConvTranspose1d``.

    Raises:
        TypeError: if an argument is not an int.
        ValueError: if an argument is out of range or the output would be empty.

    Examples:
        >>> transposed_conv_overlap(4, kernel_size=3, stride=2)  # uneven: 1, 2, 1, 2, ...
        tensor([1, 1, 2, 1, 2, 1, 2, 1, 1])
        >>> transposed_conv_overlap(4, kernel_size=4, stride=2, padding=1)  # even inside
        tensor([1, 2, 2, 2, 2, 2, 2, 1])
    """
    args = {"input_size": input_size, "kernel_size": kernel_size, "stride": stride}
    for name, value in {**args, "padding": padding}.items():
        if not _is_int(value):
            raise TypeError(f"{name} must be an int, got {value!r}")
    for name, value in args.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    full = (input_size - 1) * stride + kernel_size
    if full - 2 * padding < 1:
        raise ValueError(
            f"padding={padding} crops the whole output of length {full} "
            f"(input_size={input_size}, kernel_size={kernel_size}, stride={stride})"
        )
    counts = torch.zeros(full, dtype=torch.int64)
    for k in range(kernel_size):  # tap k of every input pixel: positions k, k + s, k + 2s, ...
        counts[k : k + (input_size - 1) * stride + 1 : stride] += 1
    return counts[padding : full - padding]


def pixel_shuffle(x: Tensor, upscale_factor: int) -> Tensor:
    r"""Rearranges (N, C·r², H, W) into (N, C, H·r, W·r), like ``F.pixel_shuffle``.

    Output pixel $(h r + i,\ w r + j)$ of channel $c$ is input channel $c r^2 + i r + j$
    at $(h, w)$: the $r^2$ channels of a group become an $r \times r$ block of sub-pixels.
    Preceded by a convolution, this is the sub-pixel convolution of Shi et al. (2016).

    Args:
        x: input of shape (N, C·r², H, W).
        upscale_factor: $r \ge 1$.

    Returns:
        Tensor of shape (N, C, H·r, W·r); only a reshape and a permute, no arithmetic.

    Raises:
        TypeError: if ``x`` is not a tensor or ``upscale_factor`` not an int.
        ValueError: if ``x`` is not 4-D, $r < 1$, or C is not divisible by $r^2$.

    Examples:
        >>> x = torch.arange(8.0).view(1, 8, 1, 1)  # 2 groups of 4 channels
        >>> pixel_shuffle(x, 2)[0]
        tensor([[[0., 1.],
                 [2., 3.]],
        <BLANKLINE>
                [[4., 5.],
                 [6., 7.]]])
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a tensor, got {type(x).__name__}")
    if not _is_int(upscale_factor):
        raise TypeError(f"upscale_factor must be an int, got {upscale_factor!r}")
    if x.dim() != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got shape {tuple(x.shape)}")
    r = upscale_factor
    if r < 1:
        raise ValueError(f"upscale_factor must be >= 1, got {r}")
    n, c, h, w = x.shape
    if c % (r * r):
        raise ValueError(f"channels C={c} are not divisible by upscale_factor**2={r * r}")
    x = x.reshape(n, c // (r * r), r, r, h, w)  # (N, C·r², H, W) -> (N, C, r, r, H, W)
    x = x.permute(0, 1, 4, 2, 5, 3)  # -> (N, C, H, r, W, r)
    return x.reshape(n, c // (r * r), h * r, w * r)  # -> (N, C, H·r, W·r)


def icnr_(
    weight: Tensor,
    upscale_factor: int,
    *,
    initializer: Callable[[Tensor], object] = nn.init.kaiming_normal_,
) -> Tensor:
    r"""ICNR initialisation: makes conv + pixel shuffle start as conv + nearest upsampling.

    A kernel for $C$ output channels is drawn with ``initializer`` and repeated $r^2$
    times, so the $r^2$ sub-pixels of every block start equal and the sub-pixel
    convolution has no checkerboard at initialisation (Aitken et al., 2017). Use it with a
    zero bias (or repeat the bias the same way).

    Args:
        weight: convolution weight of shape (C·r², C_in, kH, kW), filled in place.
        upscale_factor: the pixel shuffle factor $r \ge 1$.
        initializer: in-place init applied to the (C, C_in, kH, kW) sub-kernel.

    Returns:
        ``weight``, for chaining.

    Raises:
        TypeError: if ``upscale_factor`` is not an int.
        ValueError: if ``weight`` is not 4-D, or its dim 0 is not divisible by $r^2$.

    Examples:
        >>> conv = nn.Conv2d(3, 2 * 4, kernel_size=3, padding=1, bias=False)
        >>> _ = icnr_(conv.weight.data, 2)
        >>> y = pixel_shuffle(conv(torch.randn(1, 3, 5, 5)), 2)  # (1, 2, 10, 10)
        >>> torch.equal(y[..., 0::2, 0::2], y[..., 1::2, 1::2])  # each 2x2 block is flat
        True
    """
    if not _is_int(upscale_factor):
        raise TypeError(f"upscale_factor must be an int, got {upscale_factor!r}")
    if upscale_factor < 1:
        raise ValueError(f"upscale_factor must be >= 1, got {upscale_factor}")
    if weight.dim() != 4:
        raise ValueError(f"weight must be 4-D (C·r², C_in, kH, kW), got {tuple(weight.shape)}")
    rr = upscale_factor**2
    if weight.shape[0] % rr:
        raise ValueError(
            f"weight has {weight.shape[0]} output channels, not divisible by upscale_factor**2={rr}"
        )
    sub = torch.empty(
        (weight.shape[0] // rr, *weight.shape[1:]), dtype=weight.dtype, device=weight.device
    )
    initializer(sub)
    with torch.no_grad():
        weight.copy_(sub.repeat_interleave(rr, dim=0))  # channel c·r² + k <- sub-kernel c
    return weight
