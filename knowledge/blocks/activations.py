r"""The ReLU family written from scratch: LeakyReLU, PReLU and ELU.

All three keep ReLU's identity on the positive side and differ only for $x \le 0$:

$$
\mathrm{LeakyReLU}(x) = \begin{cases} x & x > 0 \\ a x & x \le 0 \end{cases}, \qquad
\mathrm{ELU}(x) = \begin{cases} x & x > 0 \\ \alpha\,(e^{x} - 1) & x \le 0 \end{cases},
$$

where LeakyReLU fixes $a$ (``negative_slope``) and PReLU learns it, one $a$ per channel or one
shared by all. Each module equals its ``torch.nn`` counterpart in value and in gradient,
including the gradient at exactly $x = 0$, where torch takes the left branch: the derivative
there is $a$ for LeakyReLU and PReLU and $\alpha$ for ELU (ReLU's is 0).

The branches are selected with ``torch.where(x > 0, ...)``, so the point $x = 0$ falls in the
negative branch exactly as in torch's kernels. Autograd differentiates LeakyReLU and PReLU;
ELU spells out its derivative $\alpha e^{x}$, because autograd through ``expm1`` would form
$\alpha(e^{x} - 1) + \alpha$ and lose the tiny gradients of very negative inputs to cancellation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["ELU", "LeakyReLU", "PReLU"]


def _check_real(name: str, value: object) -> float:
    """A finite int or float (bool is rejected); returns it as float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def _check_input(x: object) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"input must be a tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"input must be a floating-point tensor, got dtype {x.dtype}")
    return x


class LeakyReLU(nn.Module):
    r"""ReLU with a small fixed slope for negative inputs.

    $$
    \mathrm{LeakyReLU}(x) = \begin{cases} x & x > 0 \\ a\,x & x \le 0 \end{cases}
    $$

    The gradient is $1$ for $x > 0$ and $a$ for $x \le 0$, so a unit whose input is negative
    on every sample still passes gradient back and can recover, unlike a dead ReLU unit.
    Any finite slope is accepted, as in torch: $a = 0$ gives ReLU, $a = 1$ the identity,
    and $a < 0$ a non-monotonic function.

    Args:
        negative_slope: the slope $a$ for $x \le 0$. Default: 0.01.

    Raises:
        TypeError: if ``negative_slope`` is not a real number.
        ValueError: if ``negative_slope`` is not finite.

    Examples:
        The slope applies at zero too, which is where torch puts the kink's subgradient:

        >>> import torch
        >>> x = torch.tensor([-2.0, 0.0, 3.0], requires_grad=True)
        >>> y = LeakyReLU(negative_slope=0.1)(x)
        >>> y.detach()
        tensor([-0.2000,  0.0000,  3.0000])
        >>> y.sum().backward()
        >>> x.grad
        tensor([0.1000, 0.1000, 1.0000])
        >>> torch.equal(y, torch.nn.LeakyReLU(0.1)(x))
        True
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = _check_real("negative_slope", negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        """Applies the activation element-wise.

        Args:
            x: floating-point tensor of any shape.

        Returns:
            A tensor of the same shape and dtype.
        """
        x = _check_input(x)
        return torch.where(x > 0, x, x * self.negative_slope)

    def extra_repr(self) -> str:
        """The repr's arguments, as torch.nn.LeakyReLU prints them."""
        return f"negative_slope={self.negative_slope}"


class PReLU(nn.Module):
    r"""LeakyReLU whose negative slope is a learned parameter (He et al., 2015).

    $$
    \mathrm{PReLU}(x_c) = \begin{cases} x_c & x_c > 0 \\ a_c\,x_c & x_c \le 0 \end{cases}
    $$

    With ``num_parameters=1`` a single slope $a$ is shared by every element; with
    ``num_parameters=C`` channel $c$ has its own $a_c$, where the channel dimension is dim 1
    of the input, as in ``torch.nn.PReLU``. An input with fewer than 2 dims has one channel.
    The slope receives the gradient $\partial L / \partial a_c = \sum x\,\partial L /
    \partial y$ over the elements of channel $c$ with $x \le 0$.

    Args:
        num_parameters: number of slopes: 1, or the number of channels $C$. Default: 1.
        init: initial value of every slope. Default: 0.25.
        device: device of the slope parameter.
        dtype: dtype of the slope parameter.

    Attributes:
        weight: the learnable slopes, shape (num_parameters,).

    Raises:
        TypeError: if ``num_parameters`` is not an int or ``init`` not a real number.
        ValueError: if ``num_parameters`` < 1 or ``init`` is not finite.

    Examples:
        One slope per channel; channel 1 starts at 0.25 like channel 0 but can move apart:

        >>> import torch
        >>> act = PReLU(num_parameters=2)
        >>> x = torch.tensor([[[-4.0], [2.0]], [[1.0], [-1.0]]])  # (B=2, C=2, L=1)
        >>> act(x).squeeze(-1).detach()
        tensor([[-1.0000,  2.0000],
                [ 1.0000, -0.2500]])
        >>> act(x).sum().backward()
        >>> act.weight.grad  # channel 0 saw x=-4, channel 1 saw x=-1
        tensor([-4., -1.])
    """

    def __init__(
        self,
        num_parameters: int = 1,
        init: float = 0.25,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int):
            raise TypeError(f"num_parameters must be an int, got {num_parameters!r}")
        if num_parameters < 1:
            raise ValueError(f"num_parameters must be >= 1, got {num_parameters}")
        self.num_parameters = num_parameters
        self.init = _check_real("init", init)
        self.weight = nn.Parameter(torch.empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Sets every slope back to ``init``."""
        with torch.no_grad():
            self.weight.fill_(self.init)

    def forward(self, x: Tensor) -> Tensor:
        """Applies the activation with one slope per channel (dim 1) or one shared slope.

        Args:
            x: floating-point tensor; (B, C, ...) when ``num_parameters`` = C > 1.

        Returns:
            A tensor of the same shape as ``x``.

        Raises:
            ValueError: if ``num_parameters`` > 1 and dim 1 of ``x`` is not of that size.
        """
        x = _check_input(x)
        c = self.num_parameters
        if c == 1:
            slope = self.weight.reshape(())  # broadcasts to any shape, 0-dim input included
        else:
            channels = x.shape[1] if x.dim() >= 2 else 1
            if channels != c:
                raise ValueError(
                    f"PReLU has num_parameters={c} but the input of shape {tuple(x.shape)} "
                    f"has {channels} channels in dim 1"
                )
            slope = self.weight.reshape(1, c, *([1] * (x.dim() - 2)))  # (C,) -> (1, C, 1, ...)
        return torch.where(x > 0, x, slope * x)

    def extra_repr(self) -> str:
        """The repr's arguments, as torch.nn.PReLU prints them."""
        return f"num_parameters={self.num_parameters}"


class _ELUFunction(torch.autograd.Function):
    """ELU with its derivative alpha * exp(x) written out, as torch's backward kernel has it.

    Letting autograd differentiate ``alpha * expm1(x)`` would give ``alpha * (expm1(x) + 1)``:
    for x << 0 that sum cancels (float32, x = -20: 0 instead of 2.1e-9). The backward uses
    differentiable ops, so second derivatives work (and equal torch's, 0 at x = 0 included).
    """

    @staticmethod
    def forward(x: Tensor, alpha: float) -> Tensor:
        # x >= 0 as in torch's forward kernel (same values; 0 keeps its sign). No autograd runs
        # here, so expm1's inf for large x (not selected) is harmless.
        return torch.where(x >= 0, x, alpha * torch.expm1(x))

    @staticmethod
    def setup_context(ctx: torch.autograd.function.FunctionCtx, inputs: tuple, output: Tensor):
        x, alpha = inputs
        ctx.save_for_backward(x)
        ctx.alpha = alpha

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> tuple[Tensor, None]:
        (x,) = ctx.saved_tensors
        # min(x, 0) without overflow for x >> 0; x < 0 (not <=) gives the second derivative
        # torch's value 0 at x = 0, the first derivative there stays alpha * exp(0).
        negative = torch.where(x < 0, x, torch.zeros_like(x))
        slope = ctx.alpha * torch.exp(negative)
        return torch.where(x > 0, grad, grad * slope), None


class ELU(nn.Module):
    r"""Exponential linear unit (Clevert et al., 2016).

    $$
    \mathrm{ELU}(x) = \begin{cases} x & x > 0 \\ \alpha\,(e^{x} - 1) & x \le 0 \end{cases}
    \qquad
    \mathrm{ELU}'(x) = \begin{cases} 1 & x > 0 \\ \alpha\,e^{x} = \mathrm{ELU}(x) + \alpha
    & x \le 0 \end{cases}
    $$

    The negative branch saturates to $-\alpha$ as $x \to -\infty$, which pulls the mean
    activation towards zero. With $\alpha = 1$ the two branches meet with slope 1, so ELU is
    continuously differentiable; for other $\alpha$ the derivative jumps at 0 and, as in
    torch, the value $\alpha$ of the left branch is used there.

    The negative branch is computed with ``torch.expm1``, which is accurate for small $|x|$
    where $e^{x} - 1$ would cancel; torch's kernel uses it too, so the output is bitwise
    equal to ``torch.nn.ELU``. The backward pass computes $\alpha e^{x}$ directly (not
    $\mathrm{ELU}(x) + \alpha$, which cancels for $x \ll 0$), as torch's kernel does; it agrees
    with torch to the last bit or two of ``exp``. Both passes see only $\min(x, 0)$, so a large
    positive $x$ never creates an infinite intermediate (whose gradient would be NaN).

    Args:
        alpha: the saturation value $\alpha$ (any finite value, as torch allows). Default: 1.0.

    Raises:
        TypeError: if ``alpha`` is not a real number.
        ValueError: if ``alpha`` is not finite.

    Examples:
        >>> import torch
        >>> x = torch.tensor([-20.0, -1.0, 0.0, 2.0], requires_grad=True)
        >>> y = ELU(alpha=1.0)(x)
        >>> y.detach()  # -20 is already saturated at -alpha
        tensor([-1.0000, -0.6321,  0.0000,  2.0000])
        >>> y.sum().backward()
        >>> x.grad  # alpha * exp(x) on the left (tiny but not 0 at -20), 1 on the right
        tensor([2.0612e-09, 3.6788e-01, 1.0000e+00, 1.0000e+00])
    """

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = _check_real("alpha", alpha)

    def forward(self, x: Tensor) -> Tensor:
        """Applies the activation element-wise.

        Args:
            x: floating-point tensor of any shape.

        Returns:
            A tensor of the same shape and dtype.
        """
        return _ELUFunction.apply(_check_input(x), self.alpha)

    def extra_repr(self) -> str:
        """The repr's arguments, as torch.nn.ELU prints them."""
        return f"alpha={self.alpha}"
