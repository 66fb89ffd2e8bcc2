r"""Synchronized batch normalization (SyncBN) that runs on any ``torch.distributed`` backend.

Batch normalization normalizes each channel $c$ with statistics of the current batch. For an
input of shape (N, C, \*) the statistics of channel $c$ run over the $m = N \cdot \prod \*$
values $x_i$ of that channel:

$$
\mu = \frac{1}{m} \sum_i x_i, \qquad \sigma^2 = \frac{1}{m} \sum_i (x_i - \mu)^2, \qquad
y_i = \gamma \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta
$$

In data-parallel training every process (rank) holds only its shard of the batch. SyncBN makes
$\mu$ and $\sigma^2$ those of the **global** batch: each rank sends its count $m_r$, mean
$\mu_r$ and sum of squared deviations $M_{2,r}$, and every rank combines them with Chan's
parallel formula (the same numbers as a global count, sum and sum of squares, without the
cancellation of $\sum x^2 - m\mu^2$):

$$
m = \sum_r m_r, \qquad \mu = \frac{1}{m} \sum_r m_r \mu_r, \qquad
M_2 = \sum_r \left( M_{2,r} + m_r (\mu_r - \mu)^2 \right), \qquad \sigma^2 = \frac{M_2}{m}
$$

The backward pass all-reduces the two per-channel sums that the input gradient needs,
$\sum_i \partial L / \partial y_i$ and $\sum_i \hat{x}_i \, \partial L / \partial y_i$.

``torch.nn.SyncBatchNorm`` does the same, but only for GPU (and XPU, HPU, privateuse1)
tensors: on CPU it raises ``ValueError`` as soon as a process group exists.
[`SyncBatchNorm`][knowledge.training.SyncBatchNorm] also runs on CPU with gloo.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx, once_differentiable
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["SyncBatchNorm", "convert_sync_batchnorm"]


def _reduce_dims(x: Tensor) -> list[int]:
    """All dimensions but the channel dimension 1: (N, C, *) -> [0, 2, 3, ...]."""
    return [0, *range(2, x.dim())]


def _channel_view(v: Tensor, x: Tensor) -> Tensor:
    """Reshapes per-channel values (C,) to (1, C, 1, ...) so that they broadcast against x."""
    return v.view(1, -1, *([1] * (x.dim() - 2)))


def _local_stats(xa: Tensor, stat: torch.dtype) -> tuple[float, Tensor, Tensor]:
    """This rank's count, mean (in ``stat``) and sum of squared deviations M2, per channel."""
    c, dims = xa.shape[1], _reduce_dims(xa)
    n = xa.numel() // c
    if n == 0:  # an empty shard still takes part in the collective, with weight 0
        zeros = xa.new_zeros(c, dtype=stat)
        return 0.0, zeros, zeros
    mean0 = xa.mean(dim=dims)  # (C,), first pass
    d = xa - _channel_view(mean0, xa)  # small deviations: exact where x is close to mean0
    d_mean = d.mean(dim=dims)  # (C,), corrects the rounding of the first pass
    m2 = (d - _channel_view(d_mean, xa)).square().sum(dim=dims)  # (C,)
    return float(n), mean0.to(stat) + d_mean.to(stat), m2.to(stat)


def _centered(xa: Tensor, mean: Tensor) -> Tensor:
    """Returns x - mean; a float64 ``mean`` is applied in two steps to keep float32 digits."""
    mean_acc = mean.to(xa.dtype)
    out = xa - _channel_view(mean_acc, xa)
    if mean.dtype != xa.dtype:
        out = out - _channel_view((mean - mean_acc.to(mean.dtype)).to(xa.dtype), xa)
    return out


class _SyncBatchNormFunction(torch.autograd.Function):
    """Training-mode BN whose statistics and gradient sums are reduced over a process group."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx,
        x: Tensor,
        weight: Tensor | None,
        bias: Tensor | None,
        running_mean: Tensor | None,
        running_var: Tensor | None,
        eps: float,
        momentum: float,
        process_group: Any,
        world_size: int,
    ) -> Tensor:
        c = x.shape[1]
        acc = torch.promote_types(x.dtype, torch.float32)  # arithmetic in >= float32
        xa = x.to(acc)
        # Statistics are gathered and combined in float64 where the device has it.
        stat = torch.float64 if x.device.type != "mps" else acc
        n_local, mean_local, m2_local = _local_stats(xa, stat)
        local = torch.cat([mean_local.new_full((1,), n_local), mean_local, m2_local])  # (2C+1,)
        gathered = [torch.empty_like(local) for _ in range(world_size)]
        dist.all_gather(gathered, local, group=process_group)
        stats = torch.stack(gathered)  # (W, 2C+1)
        counts, means, m2s = stats[:, :1], stats[:, 1 : c + 1], stats[:, c + 1 :]

        n = counts.sum()
        count = int(n.item())
        if count < 2:
            raise ValueError(
                "Expected more than 1 value per channel when training, got "
                f"{count} value(s) per channel over {world_size} processes "
                f"(local input size {tuple(x.shape)})"
            )
        mean = (counts * means).sum(dim=0) / n  # (C,)
        m2 = m2s.sum(dim=0) + (counts * (means - mean).square()).sum(dim=0)  # Chan's formula
        var = m2 / n  # biased: used to normalize
        invstd = torch.rsqrt(var + eps).to(acc)

        if running_mean is not None and running_var is not None:
            with torch.no_grad():
                unbiased = m2 / (n - 1)  # unbiased: stored in running_var, as torch does
                running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype), alpha=momentum)
                running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype), alpha=momentum)

        x_hat = _centered(xa, mean) * _channel_view(invstd, xa)
        y = x_hat
        if weight is not None:
            y = y * _channel_view(weight.to(acc), xa)
        if bias is not None:
            y = y + _channel_view(bias.to(acc), xa)

        ctx.save_for_backward(x, weight, mean, invstd)
        ctx.has_bias = bias is not None  # type: ignore[attr-defined]
        ctx.count = count  # type: ignore[attr-defined]
        ctx.process_group = process_group  # type: ignore[attr-defined]
        return y.to(x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        x, weight, mean, invstd = ctx.saved_tensors
        acc = invstd.dtype
        xa, dy = x.to(acc), grad_output.to(acc)
        dims = _reduce_dims(xa)
        x_hat = _centered(xa, mean) * _channel_view(invstd, xa)
        sum_dy = dy.sum(dim=dims)  # (C,), this rank only
        sum_dy_xhat = (dy * x_hat).sum(dim=dims)  # (C,), this rank only

        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            sums = torch.cat([sum_dy, sum_dy_xhat])  # (2C,)
            dist.all_reduce(sums, group=ctx.process_group)  # global sums over all ranks
            g_dy, g_dy_xhat = sums.chunk(2)
            # dx = gamma / sigma * (dy - mean(dy) - x_hat * mean(dy * x_hat)), global means
            scale = invstd if weight is None else invstd * weight.to(acc)
            grad_input = _channel_view(scale, xa) * (
                dy
                - _channel_view(g_dy / ctx.count, xa)
                - x_hat * _channel_view(g_dy_xhat / ctx.count, xa)
            )
            grad_input = grad_input.to(x.dtype)
        # Parameter gradients stay local, as in torch: DDP all-reduces them afterwards.
        if weight is not None and ctx.needs_input_grad[1]:
            grad_weight = sum_dy_xhat.to(weight.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = sum_dy.to(grad_output.dtype if weight is None else weight.dtype)
        return grad_input, grad_weight, grad_bias, None, None, None, None, None, None


class SyncBatchNorm(_BatchNorm):
    r"""Batch normalization whose statistics span all processes, on CPU (gloo) or GPU.

    A drop-in replacement for ``torch.nn.SyncBatchNorm``: the same constructor, parameters,
    buffers and ``state_dict`` keys (``weight``, ``bias``, ``running_mean``, ``running_var``,
    ``num_batches_tracked``), so checkpoints move freely between the two. The difference is
    that it works with any ``torch.distributed`` backend and device, including gloo on CPU.

    In training mode with an initialized process group of more than one process, the
    per-channel mean and biased variance $\sigma^2$ of the **global** batch normalize the
    input, and the running statistics are updated with the global mean and the unbiased
    variance $\frac{m}{m-1}\sigma^2$ ($m$ values per channel over all ranks):

    $$
    \hat{\mu} \leftarrow (1 - \alpha)\,\hat{\mu} + \alpha\,\mu, \qquad
    \hat{\sigma}^2 \leftarrow (1 - \alpha)\,\hat{\sigma}^2 + \alpha\,\frac{m}{m - 1}\,\sigma^2
    $$

    with $\alpha$ = ``momentum``, or $\alpha = 1/t$ with $t$ = ``num_batches_tracked`` when
    ``momentum`` is None (a cumulative average). Ranks may hold different batch sizes, even
    empty ones. The input gradient equals that of BN over the concatenated batch. The
    ``weight`` and ``bias`` gradients are those of this rank's samples, as in torch: DDP
    averages them over ranks.

    Without a process group, with a world size of 1, or in eval mode, it is exactly
    ``F.batch_norm``, like ``torch.nn.BatchNorm2d``.

    Args:
        num_features: number of channels C of an input of shape (N, C, \*).
        eps: added to the variance for numerical stability.
        momentum: weight $\alpha$ of the new batch in the running statistics, or None for a
            cumulative moving average.
        affine: whether to learn a per-channel scale ``weight`` and shift ``bias``.
        track_running_stats: whether to keep ``running_mean`` and ``running_var``; without
            them, batch statistics are used in eval mode too (and are not synchronized).
        process_group: the group whose processes share statistics; None means the world.
        device: device of the parameters and buffers.
        dtype: dtype of the parameters and buffers.
        bias: whether to learn the shift ``bias`` when ``affine`` is True.

    Raises:
        TypeError: if ``num_features`` is not an int.
        ValueError: if ``num_features`` < 1, ``momentum`` is outside [0, 1] or ``eps`` < 0;
            in ``forward``, if the input has fewer than 2 dimensions, does not have
            ``num_features`` channels, or has only one value per channel in the global
            batch during training.

    Examples:
        Without a process group it is plain BN; the state_dict matches torch's layers:

        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> bn = SyncBatchNorm(3)
        >>> x = torch.randn(4, 3, 5, 5)
        >>> torch.allclose(bn(x), torch.nn.BatchNorm2d(3)(x), atol=1e-6)
        True
        >>> list(bn.state_dict()) == list(torch.nn.SyncBatchNorm(3).state_dict())
        True
        >>> bn.running_mean.shape, int(bn.num_batches_tracked)
        (torch.Size([3]), 1)

        Alone, one value per channel cannot be normalized, exactly as with torch's BN:

        >>> bn(torch.randn(1, 3, 1, 1))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        ValueError: Expected more than 1 value per channel when training, got input size ...

        In a job started with ``torch.distributed.init_process_group("gloo", ...)``, the
        same module normalizes with the statistics of all ranks' batches together, so
        that one such sample per rank is enough with two or more ranks.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: Any | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        if isinstance(num_features, bool) or not isinstance(num_features, int):
            raise TypeError(f"num_features must be an int, got {num_features!r}")
        if num_features < 1:
            raise ValueError(f"num_features must be >= 1, got {num_features}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be None or in [0, 1], got {momentum}")
        if eps < 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        extra = {} if bias else {"bias": False}  # older torch has no bias argument
        super().__init__(
            num_features,
            eps,
            momentum,
            affine,
            track_running_stats,
            device=device,
            dtype=dtype,
            **extra,
        )
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(
                f"expected an input of shape (N, C, *) with at least 2 dimensions, "
                f"got shape {tuple(input.shape)}"
            )
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"expected {self.num_features} channels in dimension 1, "
                f"got input of shape {tuple(input.shape)}"
            )

    def forward(self, input: Tensor) -> Tensor:
        """Normalizes ``input`` of shape (N, C, ...) and returns a tensor of the same shape."""
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        # Batch statistics in training, and in eval when there are no running buffers.
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        # Buffers are updated only in training, and only when tracked.
        tracked = not self.training or self.track_running_stats
        running_mean = self.running_mean if tracked else None
        running_var = self.running_var if tracked else None

        world_size = 1
        group = None
        if self.training and dist.is_available() and dist.is_initialized():
            group = self.process_group if self.process_group is not None else dist.group.WORLD
            world_size = dist.get_world_size(group)
        if world_size == 1:
            return F.batch_norm(
                input,
                running_mean,
                running_var,
                self.weight,
                self.bias,
                bn_training,
                factor,
                self.eps,
            )
        return _SyncBatchNormFunction.apply(
            input,
            self.weight,
            self.bias,
            running_mean,
            running_var,
            self.eps,
            factor,
            group,
            world_size,
        )


def convert_sync_batchnorm(module: nn.Module, process_group: Any | None = None) -> nn.Module:
    r"""Replaces every BatchNorm layer in ``module`` by a CPU-capable SyncBatchNorm.

    Works like ``torch.nn.SyncBatchNorm.convert_sync_batchnorm``: ``BatchNorm1d/2d/3d`` (any
    ``_BatchNorm``, including ``torch.nn.SyncBatchNorm``) are converted recursively. The new
    layers reuse the old parameter and buffer tensors, so values, ``requires_grad`` and the
    ``training`` flag are kept. Call it **before** wrapping the model in DDP.

    Args:
        module: a model, or a single BatchNorm layer.
        process_group: the group to synchronize over; None means the whole world.

    Returns:
        The model with its BatchNorm layers converted (the same object, changed in place), or
        a new ``SyncBatchNorm`` if ``module`` itself is a BatchNorm layer.

    Raises:
        TypeError: if ``module`` is not an ``nn.Module``.
        ValueError: if a lazy BatchNorm layer has not been initialized yet.

    Examples:
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        >>> model[1].weight.requires_grad_(False)  # doctest: +ELLIPSIS
        Parameter containing:...
        >>> model = convert_sync_batchnorm(model)
        >>> type(model[1]).__name__, model[1].weight.requires_grad
        ('SyncBatchNorm', False)
        >>> type(convert_sync_batchnorm(nn.BatchNorm1d(4))).__name__
        'SyncBatchNorm'
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    out = module
    if isinstance(module, _BatchNorm):
        if isinstance(module, nn.modules.lazy.LazyModuleMixin) and (
            module.has_uninitialized_params()
        ):
            raise ValueError(
                f"cannot convert an uninitialized {type(module).__name__}: run one forward "
                "pass first so that num_features is known"
            )
        out = SyncBatchNorm(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
            process_group,
            bias=module.bias is not None,
        )
        if module.affine:
            with torch.no_grad():
                out.weight = module.weight
                out.bias = module.bias
        out.running_mean = module.running_mean
        out.running_var = module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.training = module.training
        if hasattr(module, "qconfig"):
            out.qconfig = module.qconfig
    for name, child in module.named_children():
        out.add_module(name, convert_sync_batchnorm(child, process_group))
    return out
