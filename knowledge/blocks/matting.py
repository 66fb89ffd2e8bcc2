r"""Image matting basics: trimaps, alpha compositing and the benchmark errors.

Matting models an image as a per-pixel blend of a foreground $F$ and a background $B$,

$$
I = \alpha F + (1 - \alpha) B, \qquad \alpha \in [0, 1],
$$

and asks for the continuous opacity $\alpha$ where segmentation asks for a hard label. A
trimap marks the pixels known to be foreground (255) or background (0) and leaves a band of
unknown pixels (128) around the boundary; the errors of the matting benchmarks (Rhemann et
al., CVPR 2009, alphamatting.com; Xu et al., CVPR 2017, Deep Image Matting) are summed over
that unknown band only. Alphas here are floats in $[0, 1]$ (divide 8-bit mattes by 255).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "composite",
    "gaussian_gradient",
    "make_trimap",
    "matting_grad",
    "matting_mse",
    "matting_sad",
]

FOREGROUND, UNKNOWN, BACKGROUND = 255, 128, 0
_EPSILON = 1e-2  # kernel truncation of the DIM code's gaussgradient.m


def _check_tensor(name: str, x: object) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(x).__name__}")
    return x


def _check_alpha(name: str, alpha: object) -> Tensor:
    alpha = _check_tensor(name, alpha)
    if not alpha.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point alpha in [0, 1], got dtype {alpha.dtype} "
            "(for an 8-bit matte, divide by 255)"
        )
    inside = (alpha >= 0) & (alpha <= 1)  # False for NaN too
    if not bool(inside.all()):
        bad = alpha[~inside]
        raise ValueError(
            f"{name} must lie in [0, 1], found values from {bad.min().item():g} to "
            f"{bad.max().item():g} outside it (for an 8-bit matte, divide by 255)"
        )
    return alpha


def _as_images(name: str, x: Tensor) -> Tensor:
    """(H, W), (B, H, W) or (B, 1, H, W) -> (B, 1, H, W)."""
    if x.dim() == 2:
        return x[None, None]
    if x.dim() == 3:
        return x[:, None]
    if x.dim() == 4 and x.shape[1] == 1:
        return x
    raise ValueError(
        f"{name} must have shape (H, W), (B, H, W) or (B, 1, H, W), got {tuple(x.shape)}"
    )


def _dilate(m: Tensor, radius: int, element: str) -> Tensor:
    """Binary dilation of a (N, 1, H, W) float 0/1 map; pixels outside the image count as 0.

    A square of half-width r is one max-pool of size (2r+1) x (2r+1), done as a row pass and
    a column pass. The digital disk {dy^2 + dx^2 <= r^2} is the union of the centred boxes of
    half-size (dy, isqrt(r^2 - dy^2)), dy = 0..r, so it is the maximum of those box pools.
    """
    if radius == 0:
        return m
    if element == "square":
        boxes = [(radius, radius)]
    else:
        widths = [math.isqrt(radius * radius - dy * dy) for dy in range(radius + 1)]
        # A box is redundant when the next, taller one is as wide.
        boxes = [(dy, w) for dy, w in enumerate(widths) if dy == radius or widths[dy + 1] < w]
    out = None
    for half_h, half_w in boxes:
        d = F.max_pool2d(m, (1, 2 * half_w + 1), stride=1, padding=(0, half_w))
        if half_h:
            d = F.max_pool2d(d, (2 * half_h + 1, 1), stride=1, padding=(half_h, 0))
        out = d if out is None else torch.maximum(out, d)
    return out


def make_trimap(
    mask: Tensor, radius: int, *, element: Literal["disk", "square"] = "disk"
) -> Tensor:
    r"""Trimap from a binary mask: eroded mask 255, outside the dilated mask 0, band 128.

    With $S$ the structuring element of radius $r$ (``"disk"``: $dx^2 + dy^2 \le r^2$,
    ``"square"``: $\max(|dx|, |dy|) \le r$), a pixel $p$ is

    - foreground (255) if every mask pixel $q$ with $q - p \in S$ is 1 (erosion),
    - background (0) if every such $q$ is 0 (outside the dilation),
    - unknown (128) otherwise: $r$ pixels on each side of a straight boundary, $2r$ in all.

    Only pixels inside the image are looked at: the image border neither erodes the
    foreground nor dilates it, since an object cut by the frame goes on beyond it. Both
    operations are max-pools (erosion is $1 - \mathrm{dilate}(1 - m)$); the disk is a union
    of boxes, each a row and a column max-pool. ``radius=0`` gives no unknown band.

    Args:
        mask: binary mask of shape (H, W) or (..., H, W): bool, or numbers 0 and 1.
        radius: band radius $r$ in pixels, >= 0.
        element: structuring element, ``"disk"`` (isotropic, like OpenCV's
            ``MORPH_ELLIPSE``) or ``"square"``. Default: ``"disk"``.

    Returns:
        A uint8 tensor of the shape of ``mask`` with values 0, 128 and 255.

    Raises:
        TypeError: if ``mask`` is not a tensor or ``radius`` not an int.
        ValueError: if ``mask`` has fewer than 2 dims or values other than 0 and 1,
            ``radius`` < 0, or ``element`` is unknown.

    Examples:
        A 3 x 3 square with radius 1: its centre is sure foreground, the ring around it
        is unknown, and the disk leaves the far corners as background:

        >>> import torch
        >>> mask = torch.zeros(5, 5, dtype=torch.bool)
        >>> mask[1:4, 1:4] = True
        >>> make_trimap(mask, radius=1)
        tensor([[  0, 128, 128, 128,   0],
                [128, 128, 128, 128, 128],
                [128, 128, 255, 128, 128],
                [128, 128, 128, 128, 128],
                [  0, 128, 128, 128,   0]], dtype=torch.uint8)
        >>> make_trimap(mask, radius=1, element="square")[0]
        tensor([128, 128, 128, 128, 128], dtype=torch.uint8)
    """
    mask = _check_tensor("mask", mask)
    if isinstance(radius, bool) or not isinstance(radius, int):
        raise TypeError(f"radius must be an int, got {radius!r}")
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    if element not in ("disk", "square"):
        raise ValueError(f"element must be 'disk' or 'square', got {element!r}")
    if mask.dim() < 2:
        raise ValueError(f"mask must have shape (..., H, W), got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        binary = (mask == 0) | (mask == 1)
        if not bool(binary.all()):
            found = torch.unique(mask[~binary])[:5].tolist()
            raise ValueError(
                f"mask must be binary (bool, or 0 and 1), found values {found}; "
                "threshold it first, e.g. mask > 127"
            )
    shape = mask.shape
    m = mask.reshape(-1, 1, *shape[-2:]).to(torch.float32)  # (..., H, W) -> (N, 1, H, W)
    dilated = _dilate(m, radius, element) > 0
    eroded = _dilate(1 - m, radius, element) == 0
    trimap = torch.full(m.shape, BACKGROUND, dtype=torch.uint8, device=mask.device)
    trimap[dilated] = UNKNOWN
    trimap[eroded] = FOREGROUND
    return trimap.reshape(shape)


def composite(alpha: Tensor, fg: Tensor, bg: Tensor) -> Tensor:
    r"""Alpha compositing, $I = \alpha F + (1 - \alpha) B$ (Porter and Duff's "over").

    Args:
        alpha: opacity in $[0, 1]$, shape (B, 1, H, W) (or anything that broadcasts).
        fg: foreground colours $F$, shape (B, C, H, W).
        bg: background colours $B$, shape (B, C, H, W).

    Returns:
        The composite $I$, of the broadcast shape of the three inputs.

    Raises:
        TypeError: if an input is not a floating-point tensor.
        ValueError: if ``alpha`` leaves $[0, 1]$ (or is NaN) or the shapes do not broadcast.

    Examples:
        Half-transparent red over blue is purple; the same pixel could also be opaque
        purple over anything, which is why matting is ill-posed:

        >>> import torch
        >>> red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
        >>> blue = torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1)
        >>> composite(torch.full((1, 1, 1, 1), 0.5), red, blue).flatten()
        tensor([0.5000, 0.0000, 0.5000])
    """
    alpha = _check_alpha("alpha", alpha)
    for name, x in (("fg", fg), ("bg", bg)):
        if not _check_tensor(name, x).is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    try:
        torch.broadcast_shapes(alpha.shape, fg.shape, bg.shape)
    except RuntimeError:
        raise ValueError(
            f"alpha {tuple(alpha.shape)}, fg {tuple(fg.shape)} and bg {tuple(bg.shape)} do not "
            "broadcast; expected alpha (B, 1, H, W) with fg and bg (B, C, H, W)"
        ) from None
    return alpha * fg + (1 - alpha) * bg


def _check_errors_input(
    pred: Tensor, target: Tensor, trimap: Tensor
) -> tuple[Tensor, Tensor, Tensor, bool]:
    """Checks the three inputs; returns (pred, target, unknown) as (B, 1, H, W) and batched."""
    pred, target = _check_alpha("pred", pred), _check_alpha("target", target)
    trimap = _check_tensor("trimap", trimap)
    if pred.shape != target.shape or trimap.shape != pred.shape:
        raise ValueError(
            f"pred {tuple(pred.shape)}, target {tuple(target.shape)} and trimap "
            f"{tuple(trimap.shape)} must have the same shape"
        )
    valid = (trimap == BACKGROUND) | (trimap == UNKNOWN) | (trimap == FOREGROUND)
    if not bool(valid.all()):
        found = torch.unique(trimap[~valid])[:5].tolist()
        raise ValueError(
            f"trimap values must be 0, 128 or 255, found {found} (resize trimaps with "
            "nearest-neighbour interpolation)"
        )
    batched = pred.dim() > 2
    unknown = trimap == UNKNOWN
    return (
        _as_images("pred", pred),
        _as_images("target", target),
        _as_images("trimap", unknown),
        batched,
    )


def _per_image(values: Tensor, batched: bool) -> Tensor:
    out = values.flatten(1).sum(dim=1)  # (B, 1, H, W) -> (B,)
    return out if batched else out[0]


def matting_sad(pred: Tensor, target: Tensor, trimap: Tensor) -> Tensor:
    r"""Sum of absolute differences over the unknown region, in thousands.

    $$
    \mathrm{SAD} = \frac{1}{1000} \sum_{p \in U} |\hat{\alpha}_p - \alpha_p|,
    \qquad U = \{\, p : \mathrm{trimap}_p = 128 \,\}
    $$

    The division by 1000 is the DIM evaluation code's (``compute_sad_loss.m``), which the
    Composition-1k tables report. The sum is not normalised by the number of pixels, so it
    grows with the size of the image and of the unknown band.

    Args:
        pred: predicted alpha in $[0, 1]$, shape (H, W), (B, H, W) or (B, 1, H, W).
        target: ground-truth alpha, same shape.
        trimap: trimap with values 0, 128, 255, same shape.

    Returns:
        A 0-dim tensor for one (H, W) image, else one value per image, shape (B,).

    Raises:
        TypeError: if an input is not a tensor, or an alpha is not floating point.
        ValueError: if an alpha leaves $[0, 1]$, the shapes differ, or the trimap has
            other values.

    Examples:
        Two unknown pixels off by 0.5 and 0.25; the known pixel's error is not counted:

        >>> import torch
        >>> pred = torch.tensor([[0.5, 0.25, 1.0]])
        >>> target = torch.tensor([[1.0, 0.0, 0.0]])
        >>> trimap = torch.tensor([[128, 128, 255]], dtype=torch.uint8)
        >>> matting_sad(pred, target, trimap) * 1000
        tensor(0.7500)
    """
    pred, target, unknown, batched = _check_errors_input(pred, target, trimap)
    error = (pred - target).abs() * unknown
    return _per_image(error, batched) / 1000


def matting_mse(pred: Tensor, target: Tensor, trimap: Tensor) -> Tensor:
    r"""Mean squared error over the unknown region.

    $$
    \mathrm{MSE} = \frac{1}{|U|} \sum_{p \in U} (\hat{\alpha}_p - \alpha_p)^2
    $$

    As in the DIM code (``compute_mse_loss.m``); papers often print it multiplied by
    $10^3$. A trimap without unknown pixels gives $0/0$ = NaN.

    Args:
        pred: predicted alpha in $[0, 1]$, shape (H, W), (B, H, W) or (B, 1, H, W).
        target: ground-truth alpha, same shape.
        trimap: trimap with values 0, 128, 255, same shape.

    Returns:
        A 0-dim tensor for one (H, W) image, else one value per image, shape (B,).

    Raises:
        TypeError: if an input is not a tensor, or an alpha is not floating point.
        ValueError: as for [matting_sad][knowledge.blocks.matting_sad].

    Examples:
        >>> import torch
        >>> pred = torch.tensor([[0.5, 0.25, 1.0]])
        >>> target = torch.tensor([[1.0, 0.0, 0.0]])
        >>> trimap = torch.tensor([[128, 128, 255]], dtype=torch.uint8)
        >>> matting_mse(pred, target, trimap)  # (0.25 + 0.0625) / 2
        tensor(0.1562)
    """
    pred, target, unknown, batched = _check_errors_input(pred, target, trimap)
    error = (pred - target) ** 2 * unknown
    return _per_image(error, batched) / _per_image(unknown.to(error.dtype), batched)


def _gaussian_derivative_kernel(sigma: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The x kernel of the DIM code's gaussgradient.m: G(dy) G'(dx), unit L2 norm."""
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)):
        raise TypeError(f"sigma must be a real number, got {sigma!r}")
    scale = math.sqrt(2 * math.pi) * sigma * _EPSILON
    if not 0 < scale < 1:
        raise ValueError(
            f"sigma must be in (0, {1 / (math.sqrt(2 * math.pi) * _EPSILON):.2f}), got {sigma}"
        )
    half = math.ceil(sigma * math.sqrt(-2 * math.log(scale)))  # 4 for sigma = 1.4
    u = torch.arange(-half, half + 1, dtype=torch.float64)
    gauss = torch.exp(-(u**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
    dgauss = -u * gauss / sigma**2
    hx = gauss[:, None] * dgauss[None, :]  # rows: smoothing in y, columns: derivative in x
    hx = hx / hx.square().sum().sqrt()
    return hx.to(dtype=dtype, device=device)


def gaussian_gradient(image: Tensor, *, sigma: float = 1.4) -> tuple[Tensor, Tensor]:
    r"""Image gradient by first-order Gaussian derivative filters, as in the DIM evaluation.

    The $x$ kernel is $h_x(i, j) = G_\sigma(i)\,G'_\sigma(j)$ on the offsets $|i|, |j| \le
    h$, $h = \lceil \sigma \sqrt{-2 \ln(\sqrt{2\pi}\,\sigma\,\epsilon)} \rceil$ with
    $\epsilon = 0.01$ ($h = 4$, a 9 x 9 kernel, for $\sigma = 1.4$), scaled to unit L2 norm;
    $h_y = h_x^\top$. Both are applied as convolutions with replicated borders (MATLAB's
    ``imfilter(..., 'replicate', 'conv')`` in ``gaussgradient.m``). Because of the L2
    normalisation the result is proportional to, not equal to, the smoothed derivative.

    Args:
        image: float tensor of shape (H, W), (B, H, W) or (B, 1, H, W).
        sigma: standard deviation of the Gaussian in pixels. Default: 1.4.

    Returns:
        ``(gx, gy)``, each of the shape of ``image``: the derivatives along x (columns) and
        y (rows).

    Raises:
        TypeError: if ``image`` is not a floating-point tensor or ``sigma`` not a number.
        ValueError: if ``sigma`` is outside the range where the kernel size is defined.

    Examples:
        A horizontal ramp has a constant x gradient away from the borders and no y gradient:

        >>> import torch
        >>> ramp = torch.arange(12.0).repeat(12, 1)  # (12, 12), value = column index
        >>> gx, gy = gaussian_gradient(ramp)
        >>> bool(torch.allclose(gx[:, 4:8], gx[6, 6])), bool(gx[6, 6] > 0)  # 4 px from borders
        (True, True)
        >>> bool(gy.abs().max() < 1e-5)
        True
    """
    image = _check_tensor("image", image)
    if not image.is_floating_point():
        raise TypeError(f"image must be a floating-point tensor, got dtype {image.dtype}")
    hx = _gaussian_derivative_kernel(sigma, image.dtype, image.device)
    half = hx.shape[0] // 2
    # conv2d correlates; a convolution uses the flipped kernel.
    weight = torch.stack([hx.flip(0, 1), hx.T.flip(0, 1)])[:, None]  # (2, 1, k, k)
    x = _as_images("image", image)
    x = F.pad(x, (half, half, half, half), mode="replicate")
    g = F.conv2d(x, weight)  # (B, 1, H, W) -> (B, 2, H, W)
    gx, gy = g[:, :1], g[:, 1:]
    return gx.reshape(image.shape), gy.reshape(image.shape)


def matting_grad(pred: Tensor, target: Tensor, trimap: Tensor, *, sigma: float = 1.4) -> Tensor:
    r"""Gradient error over the unknown region, in thousands.

    $$
    \mathrm{Grad} = \frac{1}{1000} \sum_{p \in U} \left( \|\nabla \hat{\alpha}\|_p -
    \|\nabla \alpha\|_p \right)^2
    $$

    with $\nabla$ the Gaussian derivative filters of
    [gaussian_gradient][knowledge.blocks.gaussian_gradient] at $\sigma = 1.4$. This follows
    the DIM evaluation code (``compute_gradient_loss.m``), whose raw sum the papers'
    tables divide by 1000, as the common Python ports (e.g. GCA-Matting's) do in the code.
    One difference: the MATLAB code first rescales each matte to $[0, 1]$ by its own minimum
    and maximum (``mat2gray``); here, as in those ports, the alphas are used as they are.
    The two agree whenever both mattes reach 0 and 1 somewhere.

    Args:
        pred: predicted alpha in $[0, 1]$, shape (H, W), (B, H, W) or (B, 1, H, W).
        target: ground-truth alpha, same shape.
        trimap: trimap with values 0, 128, 255, same shape.
        sigma: standard deviation of the derivative filters. Default: 1.4.

    Returns:
        A 0-dim tensor for one (H, W) image, else one value per image, shape (B,).

    Raises:
        TypeError: if an input is not a tensor, or an alpha is not floating point.
        ValueError: as for [matting_sad][knowledge.blocks.matting_sad].

    Examples:
        A hard step where the truth is a soft ramp: the step's gradient is too sharp.

        >>> import torch
        >>> x = torch.arange(16.0).repeat(16, 1)  # column index
        >>> target = ((x - 4) / 8).clamp(0, 1)  # ramps from column 4 to 12
        >>> pred = (x >= 8).float()
        >>> trimap = torch.full((16, 16), 128, dtype=torch.uint8)
        >>> matting_grad(target, target, trimap).item()
        0.0
        >>> matting_grad(pred, target, trimap) > 0
        tensor(True)
    """
    pred, target, unknown, batched = _check_errors_input(pred, target, trimap)
    amplitudes = []
    for alpha in (pred, target):
        gx, gy = gaussian_gradient(alpha, sigma=sigma)
        amplitudes.append(torch.sqrt(gx**2 + gy**2))
    error = (amplitudes[0] - amplitudes[1]) ** 2 * unknown
    return _per_image(error, batched) / 1000
