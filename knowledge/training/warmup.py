r"""Learning-rate warmup: the mmcv 1.x warmup factor and warmup + decay schedulers.

Warmup starts training at a small fraction $r$ (``warmup_ratio``) of the learning rate and
raises it to the full value over the first $W$ (``warmup_iters``) iterations. With $i$ the
0-based iteration, mmcv 1.x defines three modes:

$$
f(i) = \begin{cases}
r & \text{constant} \\
1 - (1 - i/W)(1 - r) & \text{linear} \\
r^{\,1 - i/W} & \text{exp}
\end{cases}
\quad (i < W), \qquad f(i) = 1 \quad (i \ge W).
$$

The schedulers combine warmup with poly, cosine or step decay and follow one of two styles:

* ``style="mmcv"`` (mmcv 1.x ``LrUpdaterHook``, mmseg 0.x): the decay counts from
  iteration 0 and warmup **multiplies** it, $\eta_i = f(i)\,\eta^{\mathrm{decay}}_i$.
* ``style="mmengine"`` (mmengine 0.10, mmseg 1.x): **sequential** schedulers, e.g.
  ``LinearLR(begin=0, end=W)`` then ``PolyLR(begin=W, end=max_iters)``. mmengine's
  ``LinearLR`` and ``PolyLR`` use $T = \text{end} - \text{begin} - 1$, so warmup reaches 1 at
  iteration $W - 1$ and poly reaches ``eta_min`` at the last iteration.

Every scheduler computes its learning rate in closed form from the iteration number
(``WarmupScheduler.lr_at``), so a scheduler restored from its ``state_dict`` continues
exactly where it stopped.
"""

from __future__ import annotations

import bisect
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

__all__ = ["WarmupCosineLR", "WarmupPolyLR", "WarmupScheduler", "WarmupStepLR", "warmup_factor"]

_MODES = ("constant", "linear", "exp")
_STYLES = ("mmcv", "mmengine")


def _quoted(options: Sequence[str]) -> str:
    return ", ".join(repr(o) for o in options)


def _check_int(name: str, value: object, *, minimum: int, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}{hint}, got {value}")
    return value


def _check_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _check_mode(mode: object) -> str:
    if mode not in _MODES:
        raise ValueError(f"unknown warmup mode {mode!r}; expected one of {_quoted(_MODES)}")
    return mode  # type: ignore[return-value]


def _check_ratio(warmup_ratio: object) -> float:
    r = _check_real("warmup_ratio", warmup_ratio)
    if not 0.0 < r <= 1.0:
        raise ValueError(f"warmup_ratio must be in (0, 1], got {warmup_ratio!r}")
    return r


def _factor(i: int, mode: str, w: int, r: float) -> float:
    """f(i) for validated arguments; the same operations, in the same order, as mmcv 1.x."""
    if i >= w:
        return 1.0
    if mode == "constant":
        return r
    if mode == "linear":
        return 1.0 - (1.0 - i / w) * (1.0 - r)
    return r ** (1.0 - i / w)


def warmup_factor(cur_iter: int, *, mode: str, warmup_iters: int, warmup_ratio: float) -> float:
    r"""The factor that multiplies the learning rate at iteration ``cur_iter`` (mmcv 1.x).

    With $i$ = ``cur_iter``, $W$ = ``warmup_iters`` and $r$ = ``warmup_ratio``:
    ``constant`` gives $r$, ``linear`` gives $1 - (1 - i/W)(1 - r)$, ``exp`` gives
    $r^{1 - i/W}$, and every mode gives 1 once $i \ge W$. Linear and exp both start at $r$
    and would reach 1 at $i = W$; constant jumps from $r$ to 1 there.

    Args:
        cur_iter: 0-based iteration.
        mode: ``"constant"``, ``"linear"`` or ``"exp"``.
        warmup_iters: number of warmup iterations $W \ge 1$.
        warmup_ratio: starting factor $r$ in $(0, 1]$.

    Returns:
        The factor, in $[r, 1]$.

    Raises:
        TypeError: if an iteration count is not an int or the ratio is not a real number.
        ValueError: for a negative ``cur_iter``, ``warmup_iters < 1``, a ratio outside
            $(0, 1]$ or an unknown mode.

    Examples:
        Halfway through a 10-iteration linear warmup from 0.1, the factor is
        $1 - 0.5 \cdot 0.9 = 0.55$; exp warmup is at $0.01^{0.5} = 0.1$ of the way there.

        >>> warmup_factor(5, mode="linear", warmup_iters=10, warmup_ratio=0.1)
        0.55
        >>> warmup_factor(5, mode="exp", warmup_iters=10, warmup_ratio=0.01)
        0.1
        >>> [warmup_factor(i, mode="constant", warmup_iters=3, warmup_ratio=0.1) for i in range(5)]
        [0.1, 0.1, 0.1, 1.0, 1.0]
    """
    i = _check_int("cur_iter", cur_iter, minimum=0, hint=" (iterations count from 0)")
    w = _check_int("warmup_iters", warmup_iters, minimum=1)
    return _factor(i, _check_mode(mode), w, _check_ratio(warmup_ratio))


class WarmupScheduler(LRScheduler, ABC):
    r"""Base class of the warmup schedulers: warmup, the two styles and the closed form.

    A ``torch.optim.lr_scheduler.LRScheduler`` meant to be stepped once per **iteration**,
    after ``optimizer.step()``. Creating it sets the optimizer's lr to that of iteration 0.
    The learning rate of iteration $i$ is $f(i)\,\eta^{\mathrm{decay}}_i$, computed in closed
    form by [`lr_at`][knowledge.training.WarmupScheduler.lr_at] from ``last_epoch`` (the
    iteration counter) and the base learning rates alone. Hence ``state_dict()`` /
    ``load_state_dict()`` resume exactly, even into an optimizer whose lr was not restored.

    * ``style="mmcv"``: $f$ is [`warmup_factor`][knowledge.training.warmup_factor] with
      $W$ = ``warmup_iters``, and the decay counts from iteration 0 (mmcv 1.x
      ``LrUpdaterHook``, ``by_epoch=False``).
    * ``style="mmengine"``: $f$ is the factor of mmengine's ``LinearLR`` or ``ConstantLR``
      over ``[0, W)``, which equals ``warmup_factor`` with ``W - 1`` warmup iterations; the
      decay scheduler starts at ``begin=W`` (``MultiStepLR`` at 0, see
      [`WarmupStepLR`][knowledge.training.WarmupStepLR]).

    After ``max_iters`` iterations the learning rate keeps its last value, as mmengine's
    schedulers do once past ``end``. Subclasses define the decay in ``_decay``.

    Examples:
        A scheduler rebuilt after an interruption and given the saved ``state_dict`` goes on
        with the right learning rate, whatever the new optimizer's lr was:

        >>> import torch
        >>> def build():
        ...     opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        ...     kw = dict(warmup="linear", warmup_iters=5, warmup_ratio=0.1)
        ...     return opt, WarmupPolyLR(opt, max_iters=50, **kw)
        >>> opt, sched = build()
        >>> for _ in range(20):  # iterations 0..19
        ...     opt.step()
        ...     sched.step()
        >>> state = sched.state_dict()
        >>> opt2, sched2 = build()
        >>> sched2.load_state_dict(state)
        >>> opt2.step()
        >>> sched2.step()  # now set for iteration 21
        >>> opt2.param_groups[0]["lr"] == sched.lr_at(21)[0]
        True
    """

    def __init__(
        self,
        optimizer: Optimizer,
        *,
        max_iters: int,
        warmup: str | None,
        warmup_iters: int,
        warmup_ratio: float,
        style: str,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {optimizer!r}")
        if style not in _STYLES:
            raise ValueError(f"unknown style {style!r}; expected one of {_quoted(_STYLES)}")
        self.style = style
        self.max_iters = _check_int("max_iters", max_iters, minimum=1)
        self.warmup_ratio = _check_ratio(warmup_ratio)
        if warmup is None:
            if warmup_iters != 0:
                raise ValueError(
                    f"warmup_iters={warmup_iters!r} has no effect with warmup=None; "
                    f"pass warmup as one of {_quoted(_MODES)} or leave warmup_iters at 0"
                )
            self.warmup, self.warmup_iters = None, 0
        else:
            self.warmup = _check_mode(warmup)
            if style == "mmengine":
                if warmup == "exp":
                    raise ValueError(
                        "style='mmengine' has no exponential warmup (mmengine offers LinearLR "
                        "and ConstantLR); use warmup='linear' or 'constant', or style='mmcv'"
                    )
                hint = " for style='mmengine' (its warmup ends at warmup_iters - 1)"
                self.warmup_iters = _check_int("warmup_iters", warmup_iters, minimum=2, hint=hint)
            else:
                self.warmup_iters = _check_int("warmup_iters", warmup_iters, minimum=1)
            if self.warmup_iters >= self.max_iters:
                raise ValueError(
                    f"max_iters={max_iters} must be greater than warmup_iters={warmup_iters}"
                )
        super().__init__(optimizer)

    @staticmethod
    def _initial_lrs(optimizer: Optimizer) -> list[float]:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {optimizer!r}")
        return [float(g.get("initial_lr", g["lr"])) for g in optimizer.param_groups]

    @property
    def _begin(self) -> int:
        """First iteration of the decay in mmengine style (0 without warmup)."""
        return self.warmup_iters

    def _warmup(self, i: int) -> float:
        if self.warmup is None:
            return 1.0
        if self.style == "mmcv":
            return _factor(i, self.warmup, self.warmup_iters, self.warmup_ratio)
        # mmengine: LinearLR / ConstantLR over [0, W) end their warmup at T = W - 1, so this is
        # the mmcv factor with W - 1 warmup iterations. The linear factor is written as mmengine
        # multiplies it out, r + (1 - r) i / T: exact at i = 0, where mmcv's 1 - (1 - 0)(1 - r)
        # cancels (about 3e-11 relative error for r = 1e-6).
        big_t = self.warmup_iters - 1
        if self.warmup == "linear" and i < big_t:
            return self.warmup_ratio + (1.0 - self.warmup_ratio) * i / big_t
        return _factor(i, self.warmup, big_t, self.warmup_ratio)

    @abstractmethod
    def _decay(self, base_lr: float, i: int) -> float:
        """The decayed learning rate at iteration ``i < max_iters``, before warmup."""

    def lr_at(self, iteration: int) -> list[float]:
        r"""The learning rate of every parameter group at ``iteration``, in closed form.

        This is what the optimizer uses at that (0-based) iteration when ``step()`` is
        called once per iteration, computed without stepping. From ``max_iters`` on, the
        learning rate stays at its value at ``max_iters - 1``.

        Args:
            iteration: 0-based iteration, ``>= 0``.

        Returns:
            One learning rate per parameter group.

        Raises:
            TypeError: if ``iteration`` is not an int.
            ValueError: if ``iteration`` is negative.
        """
        i = _check_int("iteration", iteration, minimum=0, hint=" (iterations count from 0)")
        i = min(i, self.max_iters - 1)
        return [self._warmup(i) * self._decay(float(base), i) for base in self.base_lrs]

    def get_lr(self) -> list[float]:
        """The learning rates for iteration ``last_epoch``; called by ``step()``."""
        return self.lr_at(self.last_epoch)


def _check_min_lr(min_lr: object, base_lrs: list[float]) -> float:
    value = _check_real("min_lr", min_lr)
    if not 0.0 <= value <= min(base_lrs):
        raise ValueError(
            f"min_lr must be in [0, smallest base lr = {min(base_lrs)}], got {min_lr!r}"
        )
    return value


class WarmupPolyLR(WarmupScheduler):
    r"""Polynomial decay with warmup, stepped once per iteration.

    ``style="mmcv"`` reproduces mmcv 1.x ``PolyLrUpdaterHook`` (``by_epoch=False``): with
    $\eta_0$ the base learning rate and $N$ = ``max_iters``,

    $$\eta_i = f(i)\left[(\eta_0 - \eta_{\min})\,(1 - i/N)^{p} + \eta_{\min}\right],$$

    where $f$ is [`warmup_factor`][knowledge.training.warmup_factor]. ``style="mmengine"``
    reproduces mmengine's ``LinearLR(start_factor=r, begin=0, end=W)`` (or ``ConstantLR``)
    followed by ``PolyLR(eta_min, power, begin=W, end=N)``: warmup
    $r + (1 - r)\,i/(W - 1)$ up to $i = W - 1$, then, with $t = i - W$ and $T = N - W - 1$,
    $\eta_i = (\eta_0 - \eta_{\min})(1 - t/T)^{p} + \eta_{\min}$, which is exactly
    $\eta_{\min}$ at the last iteration $N - 1$.

    Args:
        optimizer: the wrapped optimizer; each parameter group keeps its own base lr.
        max_iters: total number of training iterations $N$.
        power: exponent $p > 0$ of the polynomial.
        min_lr: final learning rate $\eta_{\min}$ (mmengine's ``eta_min``), the same for
            every group.
        warmup: ``None``, ``"constant"``, ``"linear"`` or ``"exp"`` (mmcv style only).
        warmup_iters: number of warmup iterations $W$ (0 when ``warmup`` is ``None``).
        warmup_ratio: starting factor $r$ in $(0, 1]$ (mmengine's ``start_factor``).
        style: ``"mmcv"`` or ``"mmengine"``.

    Raises:
        TypeError: for arguments of the wrong type.
        ValueError: for out-of-range arguments, e.g. ``max_iters <= warmup_iters``.

    Examples:
        The ADE20K recipe scaled down 1000 times: 10 warmup iterations, 100 in total.

        >>> import torch
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.01)
        >>> kw = dict(max_iters=100, warmup="linear", warmup_iters=10, warmup_ratio=0.1)
        >>> mmcv = WarmupPolyLR(opt, **kw)  # sets the lr of iteration 0
        >>> [round(mmcv.lr_at(i)[0], 6) for i in (0, 5, 9, 10, 99)]
        [0.001, 0.005225, 0.008281, 0.009, 0.0001]

        At iteration 5 that is $0.01 \cdot (1 - 5/100) \cdot 0.55$. In a training loop, call
        ``optimizer.step()`` and then ``scheduler.step()`` once per iteration:

        >>> for _ in range(3):
        ...     opt.step()
        ...     mmcv.step()
        >>> round(opt.param_groups[0]["lr"], 6) == round(mmcv.lr_at(3)[0], 6)
        True

        In mmengine style warmup is complete one iteration early and poly starts at $W$:

        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.01)
        >>> mme = WarmupPolyLR(opt, style="mmengine", **kw)
        >>> [round(mme.lr_at(i)[0], 6) for i in (0, 5, 9, 10, 99)]
        [0.001, 0.006, 0.01, 0.01, 0.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        *,
        max_iters: int,
        power: float = 1.0,
        min_lr: float = 0.0,
        warmup: str | None = None,
        warmup_iters: int = 0,
        warmup_ratio: float = 0.1,
        style: str = "mmcv",
    ) -> None:
        self.power = _check_real("power", power)
        if not self.power > 0.0:
            raise ValueError(f"power must be > 0, got {power!r}")
        self.min_lr = _check_min_lr(min_lr, self._initial_lrs(optimizer))
        super().__init__(
            optimizer,
            max_iters=max_iters,
            warmup=warmup,
            warmup_iters=warmup_iters,
            warmup_ratio=warmup_ratio,
            style=style,
        )

    def _decay(self, base_lr: float, i: int) -> float:
        if self.style == "mmcv":
            coeff = (1 - i / self.max_iters) ** self.power
        else:
            t, big_t = i - self._begin, self.max_iters - self._begin - 1
            if t <= 0:  # before and at PolyLR's begin the lr is left as it is
                return base_lr
            coeff = (1 - t / big_t) ** self.power
        return (base_lr - self.min_lr) * coeff + self.min_lr


class WarmupCosineLR(WarmupScheduler):
    r"""Cosine annealing with warmup, stepped once per iteration.

    ``style="mmcv"`` reproduces mmcv 1.x ``CosineAnnealingLrUpdaterHook`` with ``min_lr``:

    $$\eta_i = f(i)\left[\eta_{\min} + \tfrac{1}{2}(\eta_0 - \eta_{\min})
    \left(1 + \cos\frac{\pi i}{N}\right)\right].$$

    ``style="mmengine"`` reproduces warmup followed by mmengine's
    ``CosineAnnealingLR(eta_min, begin=W, end=N)``, whose default ``T_max`` is
    $N - W$ (**not** $N - W - 1$): with $t = i - W$ the cosine argument is
    $\pi t / (N - W)$, so the last iteration stays slightly above $\eta_{\min}$.

    Args:
        optimizer: the wrapped optimizer; each parameter group keeps its own base lr.
        max_iters: total number of training iterations $N$.
        min_lr: final learning rate $\eta_{\min}$, the same for every group.
        warmup: ``None``, ``"constant"``, ``"linear"`` or ``"exp"`` (mmcv style only).
        warmup_iters: number of warmup iterations $W$ (0 when ``warmup`` is ``None``).
        warmup_ratio: starting factor $r$ in $(0, 1]$.
        style: ``"mmcv"`` or ``"mmengine"``.

    Raises:
        TypeError: for arguments of the wrong type.
        ValueError: for out-of-range arguments.

    Examples:
        Halfway through a cosine schedule without warmup, the lr is halfway down:

        >>> import torch
        >>> opt = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=1e-3)
        >>> sched = WarmupCosineLR(opt, max_iters=100, min_lr=1e-5)
        >>> round(sched.lr_at(50)[0], 6)  # 1e-5 + (1e-3 - 1e-5) / 2
        0.000505
    """

    def __init__(
        self,
        optimizer: Optimizer,
        *,
        max_iters: int,
        min_lr: float = 0.0,
        warmup: str | None = None,
        warmup_iters: int = 0,
        warmup_ratio: float = 0.1,
        style: str = "mmcv",
    ) -> None:
        self.min_lr = _check_min_lr(min_lr, self._initial_lrs(optimizer))
        super().__init__(
            optimizer,
            max_iters=max_iters,
            warmup=warmup,
            warmup_iters=warmup_iters,
            warmup_ratio=warmup_ratio,
            style=style,
        )

    def _decay(self, base_lr: float, i: int) -> float:
        if self.style == "mmcv":
            # mmcv's annealing_cos(start, end, factor), term by term
            cos_out = math.cos(math.pi * (i / self.max_iters)) + 1
            return self.min_lr + 0.5 * (base_lr - self.min_lr) * cos_out
        t, t_max = i - self._begin, self.max_iters - self._begin
        if t <= 0:
            return base_lr
        return self.min_lr + (base_lr - self.min_lr) * (1 + math.cos(math.pi * t / t_max)) / 2


class WarmupStepLR(WarmupScheduler):
    r"""Step decay with warmup: the lr is multiplied by ``gamma`` at each of ``steps``.

    With $k(i)$ the number of entries of ``steps`` that are $\le i$ (iterations, counted
    from 0 in both styles), $\eta_i = f(i)\,\eta_0\,\gamma^{k(i)}$. ``style="mmcv"``
    reproduces mmcv 1.x ``StepLrUpdaterHook(step=steps, gamma=gamma)`` with
    ``by_epoch=False``; ``style="mmengine"`` reproduces warmup together with mmengine's
    ``MultiStepLR(milestones=steps, gamma=gamma, begin=0, end=N)``, which overlaps the
    warmup, as mmdet's configs write it. The styles differ only in the warmup.

    Args:
        optimizer: the wrapped optimizer; each parameter group keeps its own base lr.
        max_iters: total number of training iterations $N$.
        steps: strictly increasing iterations in $[1, N)$ at which the lr drops.
        gamma: decay factor in $(0, 1]$.
        warmup: ``None``, ``"constant"``, ``"linear"`` or ``"exp"`` (mmcv style only).
        warmup_iters: number of warmup iterations $W$ (0 when ``warmup`` is ``None``).
        warmup_ratio: starting factor $r$ in $(0, 1]$.
        style: ``"mmcv"`` or ``"mmengine"``.

    Raises:
        TypeError: for arguments of the wrong type.
        ValueError: for out-of-range arguments or unsorted ``steps``.

    Examples:
        >>> import torch
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> sched = WarmupStepLR(opt, max_iters=30, steps=(10, 20), gamma=0.1)
        >>> [round(sched.lr_at(i)[0], 6) for i in (9, 10, 19, 20)]
        [0.1, 0.01, 0.01, 0.001]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        *,
        max_iters: int,
        steps: Sequence[int],
        gamma: float = 0.1,
        warmup: str | None = None,
        warmup_iters: int = 0,
        warmup_ratio: float = 0.1,
        style: str = "mmcv",
    ) -> None:
        if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
            raise TypeError(f"steps must be a sequence of ints, got {steps!r}")
        if len(steps) == 0:
            raise ValueError("steps must name at least one iteration, got an empty sequence")
        for s in steps:
            _check_int("every entry of steps", s, minimum=1)
        n = _check_int("max_iters", max_iters, minimum=1)
        if any(a >= b for a, b in itertools.pairwise(steps)) or steps[-1] >= n:
            raise ValueError(
                f"steps must be strictly increasing iterations below max_iters={n}, got {steps!r}"
            )
        self.steps = tuple(steps)
        self.gamma = _check_real("gamma", gamma)
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
        super().__init__(
            optimizer,
            max_iters=max_iters,
            warmup=warmup,
            warmup_iters=warmup_iters,
            warmup_ratio=warmup_ratio,
            style=style,
        )

    def _decay(self, base_lr: float, i: int) -> float:
        return base_lr * self.gamma ** bisect.bisect_right(self.steps, i)
