r"""Iterations vs epochs: the arithmetic, a resumable sampler and a minimal training loop.

An **iteration** is one mini-batch: forward, backward and (without gradient accumulation)
one optimizer step. An **epoch** is one pass over the training set. On $W$ processes with
$b$ samples each, one iteration consumes $W b$ samples, so with $N$ training samples

$$
L = \left\lceil \frac{\lceil N / W \rceil}{b} \right\rceil
$$

iterations make one epoch (torch's ``DistributedSampler`` pads every rank to
$\lceil N / W \rceil$ samples and the ``DataLoader`` keeps the last, short batch). With
``drop_last=True`` both ceilings become floors.

[`Runner`][knowledge.training.Runner] is a loop in the style of mmengine: it always counts
iterations, calls hooks at fixed points and steps the learning-rate scheduler once per
iteration. A run "by epochs" is a run of ``max_epochs * L`` iterations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.utils.data import DataLoader, Sampler

if TYPE_CHECKING:
    from knowledge.training.hooks import Hook

__all__ = [
    "ResumableSampler",
    "Runner",
    "epochs_to_iters",
    "iters_per_epoch",
    "iters_to_epochs",
]

HOOK_POINTS = (
    "before_run",
    "before_train_epoch",
    "before_train_iter",
    "after_train_iter",
    "after_train_epoch",
    "after_run",
)


def _check_int(name: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def iters_per_epoch(
    dataset_size: int, batch_size: int, *, world_size: int = 1, drop_last: bool = False
) -> int:
    r"""Number of iterations in one epoch, exactly as ``DistributedSampler`` + ``DataLoader``.

    Each of the ``world_size`` ranks gets $n = \lceil N / W \rceil$ samples (the sampler
    repeats a few samples to pad $N$ up to a multiple of $W$), and its loader makes
    $\lceil n / b \rceil$ batches, the last one possibly short. With ``drop_last=True``
    (passed to both the sampler and the loader) the sampler drops the tail instead,
    $n = \lfloor N / W \rfloor$, and the loader drops the short batch: $\lfloor n / b \rfloor$.

    Args:
        dataset_size: number of training samples N.
        batch_size: samples per rank per iteration b (the loader's ``batch_size``).
        world_size: number of processes W (GPUs); 1 without distributed training.
        drop_last: the ``drop_last`` given to ``DistributedSampler`` and ``DataLoader``.

    Returns:
        The number of iterations L that one epoch takes on every rank.

    Raises:
        TypeError: if a count is not an int.
        ValueError: if ``dataset_size < 0``, ``batch_size < 1`` or ``world_size < 1``.

    Examples:
        ADE20K has 20,210 training images; 8 GPUs with 2 images each:

        >>> iters_per_epoch(20210, 2, world_size=8)
        1264
        >>> iters_per_epoch(20210, 2, world_size=8, drop_last=True)
        1263

        Ten samples, batches of four, one process: 4 + 4 + 2, or 4 + 4 without the tail.

        >>> iters_per_epoch(10, 4), iters_per_epoch(10, 4, drop_last=True)
        (3, 2)
    """
    n = _check_int("dataset_size", dataset_size, minimum=0)
    b = _check_int("batch_size", batch_size, minimum=1)
    w = _check_int("world_size", world_size, minimum=1)
    per_rank = n // w if drop_last else math.ceil(n / w)
    return per_rank // b if drop_last else math.ceil(per_rank / b)


def epochs_to_iters(epochs: float, *, iters_per_epoch: int) -> int:
    r"""Converts a length in epochs (a schedule, a milestone) to iterations.

    $T_{\text{iter}} = \operatorname{round}(T_{\text{epoch}} \cdot L)$: fractions of an
    epoch are rounded to the nearest iteration (Python's ``round``: an exact half goes to the
    even neighbour).

    Args:
        epochs: number of epochs, for example a milestone of a step schedule; may be fractional.
        iters_per_epoch: iterations per epoch L, for example from
            [`iters_per_epoch`][knowledge.training.iters_per_epoch].

    Returns:
        The number of iterations.

    Raises:
        TypeError: if ``epochs`` is not a number.
        ValueError: if ``epochs`` is negative or not finite, or ``iters_per_epoch < 1``.

    Examples:
        >>> epochs_to_iters(2, iters_per_epoch=372)
        744
        >>> epochs_to_iters(0.5, iters_per_epoch=1264)
        632
    """
    length = _check_int("iters_per_epoch", iters_per_epoch, minimum=1)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, float)):
        raise TypeError(f"epochs must be a number, got {epochs!r}")
    if not math.isfinite(epochs) or epochs < 0:
        raise ValueError(f"epochs must be finite and >= 0, got {epochs}")
    return round(epochs * length)


def iters_to_epochs(iters: int, *, iters_per_epoch: int) -> float:
    r"""Converts a number of iterations to (possibly fractional) epochs, $T / L$.

    Args:
        iters: number of iterations T.
        iters_per_epoch: iterations per epoch L, for example from
            [`iters_per_epoch`][knowledge.training.iters_per_epoch].

    Returns:
        The number of epochs, a float.

    Raises:
        TypeError: if a count is not an int.
        ValueError: if ``iters < 0`` or ``iters_per_epoch < 1``.

    Examples:
        Cityscapes: 2,975 images, 8 GPUs with one image each, 80k iterations:

        >>> length = iters_per_epoch(2975, 1, world_size=8)
        >>> length, round(iters_to_epochs(80_000, iters_per_epoch=length), 2)
        (372, 215.05)
    """
    t = _check_int("iters", iters, minimum=0)
    return t / _check_int("iters_per_epoch", iters_per_epoch, minimum=1)


class ResumableSampler(Sampler[int]):
    r"""A seeded shuffling sampler that can restart in the middle of an epoch.

    Epoch $e$ visits ``torch.randperm(N)`` drawn from a ``torch.Generator`` seeded with
    ``seed + e``: the same order as ``DistributedSampler`` with one replica after
    ``set_epoch(e)``, and independent of the global RNG. The sampler also keeps its
    ``position``, the number of samples of the current epoch already consumed; iterating
    starts there. Saving ``(epoch, position)`` and restoring it therefore continues with
    exactly the batches an uninterrupted run would have seen.

    The training loop, not the sampler, knows when a batch has been consumed (a
    ``DataLoader`` with workers prefetches indices early), so the loop calls
    [`advance`][knowledge.training.ResumableSampler.advance] after each iteration.

    Args:
        dataset_size: number of samples N.
        shuffle: draw a new permutation each epoch; ``False`` visits 0, 1, ..., N - 1.
        seed: base seed of the per-epoch permutations.

    Examples:
        >>> sampler = ResumableSampler(6, seed=0)
        >>> order = list(sampler)
        >>> sampler.advance(4)  # two batches of two consumed, then the run stops
        >>> resumed = ResumableSampler(6, seed=0)
        >>> resumed.load_state_dict(sampler.state_dict())
        >>> list(resumed) == order[4:]
        True
    """

    def __init__(self, dataset_size: int, *, shuffle: bool = True, seed: int = 0) -> None:
        self.dataset_size = _check_int("dataset_size", dataset_size, minimum=0)
        self.shuffle = bool(shuffle)
        self.seed = _check_int("seed", seed, minimum=0)
        self.epoch = 0
        self.position = 0

    def order(self) -> list[int]:
        """The full visiting order of the current epoch, ignoring ``position``."""
        if not self.shuffle:
            return list(range(self.dataset_size))
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        return torch.randperm(self.dataset_size, generator=generator).tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.order()[self.position :])

    def __len__(self) -> int:
        return self.dataset_size - self.position

    def set_epoch(self, epoch: int) -> None:
        """Starts epoch ``epoch`` from its first sample (new permutation, position 0)."""
        self.epoch = _check_int("epoch", epoch, minimum=0)
        self.position = 0

    def advance(self, num_samples: int) -> None:
        """Marks ``num_samples`` more samples of this epoch as consumed."""
        _check_int("num_samples", num_samples, minimum=0)
        if self.position + num_samples > self.dataset_size:
            raise ValueError(
                f"cannot advance by {num_samples}: position {self.position} of "
                f"{self.dataset_size} samples would pass the end of the epoch"
            )
        self.position += num_samples

    def state_dict(self) -> dict[str, int | bool]:
        """Plain values only, so that ``torch.load(weights_only=True)`` can read them."""
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "shuffle": self.shuffle,
            "dataset_size": self.dataset_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores epoch and position; refuses a state saved for another dataset or seed."""
        for key in ("dataset_size", "seed", "shuffle"):
            if state.get(key) != getattr(self, key):
                raise ValueError(
                    f"sampler state has {key}={state.get(key)!r} but this sampler has "
                    f"{key}={getattr(self, key)!r}; the saved position would mean other samples"
                )
        self.epoch = _check_int("epoch", state["epoch"], minimum=0)
        position = _check_int("position", state["position"], minimum=0)
        if position > self.dataset_size:
            raise ValueError(f"position {position} exceeds dataset_size {self.dataset_size}")
        self.position = position


class Runner:
    r"""A minimal iteration-based training loop with mm-style hooks.

    Each iteration runs ``loss = loss_fn(model, batch)``, ``optimizer.zero_grad()``,
    ``loss.backward()``, ``optimizer.step()`` and then ``scheduler.step()``: **the loop
    steps the scheduler once per iteration**, so any ``torch.optim.lr_scheduler.LRScheduler``
    works and its lengths are counted in iterations (convert epochs with
    [`epochs_to_iters`][knowledge.training.epochs_to_iters]). Hooks only observe.

    The hooks are called in list order at six points:

    ```text
    before_run
    for each epoch:                  before_train_epoch
        for each batch:              before_train_iter, <step>, after_train_iter
                                     after_train_epoch   (complete epochs only)
    after_run
    ```

    Progress is counted by ``iter`` (iterations done) and ``epoch`` (epochs done);
    ``inner_iter = iter - epoch * epoch_length`` is the position inside the epoch. To
    resume, restore the states (see [`resume`][knowledge.training.resume]), set ``iter`` and
    ``epoch`` and call [`run`][knowledge.training.Runner.run] again. A run that starts in the
    middle of an epoch does not call ``before_train_epoch`` for it: that call happened before
    the snapshot.

    Args:
        model: the network; put in train mode by [`run`][knowledge.training.Runner.run].
        optimizer: its optimizer.
        loader: the training ``DataLoader``. Resuming mid-epoch needs its sampler to be a
            [`ResumableSampler`][knowledge.training.ResumableSampler]; any sampler with
            ``set_epoch`` gets it called.
        loss_fn: ``loss_fn(model, batch)`` returns the scalar loss of one batch.
        scheduler: learning-rate scheduler stepped after every optimizer step, or ``None``.
        max_iters: train for this many iterations in total ...
        max_epochs: ... or for this many epochs (give exactly one of the two).
        hooks: objects with the hook methods above, such as [`Hook`][knowledge.training.Hook].

    Examples:
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> data = torch.utils.data.TensorDataset(torch.randn(10, 3), torch.randn(10, 1))
        >>> loader = DataLoader(data, batch_size=4, sampler=ResumableSampler(10))
        >>> model = nn.Linear(3, 1)
        >>> runner = Runner(
        ...     model,
        ...     torch.optim.SGD(model.parameters(), lr=0.1),
        ...     loader,
        ...     loss_fn=lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
        ...     max_epochs=2,
        ... )
        >>> runner.epoch_length, runner.max_iters
        (3, 6)
        >>> runner.run()
        >>> runner.iter, runner.epoch
        (6, 2)
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: Optimizer,
        loader: DataLoader,
        *,
        loss_fn: Callable[[nn.Module, Any], Tensor],
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        max_iters: int | None = None,
        max_epochs: int | None = None,
        hooks: Sequence[Hook] = (),
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch Optimizer, got {type(optimizer).__name__}")
        if not isinstance(loader, DataLoader):
            raise TypeError(f"loader must be a DataLoader, got {type(loader).__name__}")
        if (max_iters is None) == (max_epochs is None):
            raise ValueError(
                f"give exactly one of max_iters and max_epochs, got max_iters={max_iters} "
                f"and max_epochs={max_epochs}"
            )
        for hook in hooks:
            missing = [p for p in HOOK_POINTS if not callable(getattr(hook, p, None))]
            if missing:
                raise TypeError(f"hook {type(hook).__name__} lacks the methods {missing}")
        self.model, self.optimizer, self.loader = model, optimizer, loader
        self.loss_fn, self.scheduler, self.hooks = loss_fn, scheduler, list(hooks)
        if isinstance(loader.sampler, ResumableSampler):
            if loader.batch_size is None:
                raise ValueError("a ResumableSampler needs a DataLoader with a batch_size")
            self.epoch_length = iters_per_epoch(
                loader.sampler.dataset_size, loader.batch_size, drop_last=loader.drop_last
            )
        else:
            self.epoch_length = len(loader)
        if self.epoch_length < 1:
            raise ValueError("the loader yields no batch: the epoch would be empty")
        if max_iters is not None:
            self.max_iters = _check_int("max_iters", max_iters, minimum=0)
        else:
            self.max_iters = _check_int("max_epochs", max_epochs, minimum=0) * self.epoch_length
        self.iter = 0
        self.epoch = 0
        self.outputs: dict[str, float] = {}

    @property
    def sampler(self) -> Any:
        """The loader's sampler."""
        return self.loader.sampler

    @property
    def inner_iter(self) -> int:
        """Iterations done in the current epoch."""
        return self.iter - self.epoch * self.epoch_length

    @property
    def lr(self) -> float:
        """The learning rate of the first parameter group, as the next step will use it."""
        return float(self.optimizer.param_groups[0]["lr"])

    def call_hook(self, name: str) -> None:
        """Calls ``hook.<name>(self)`` on every hook, in list order."""
        for hook in self.hooks:
            getattr(hook, name)(self)

    def _check_position(self) -> None:
        inner = self.inner_iter
        if not 0 <= inner <= self.epoch_length:
            raise ValueError(
                f"iter={self.iter} is not inside epoch {self.epoch} of {self.epoch_length} "
                "iterations; set iter and epoch from the same checkpoint"
            )
        if inner in (0, self.epoch_length):
            return
        sampler = self.sampler
        if not isinstance(sampler, ResumableSampler):
            raise ValueError(
                f"resuming at iteration {inner} of epoch {self.epoch} needs a ResumableSampler; "
                f"a {type(sampler).__name__} would replay the epoch from its first batch"
            )
        expected = inner * self.loader.batch_size
        if (sampler.epoch, sampler.position) != (self.epoch, expected):
            raise ValueError(
                f"sampler is at epoch {sampler.epoch}, position {sampler.position}, but the "
                f"loop is at epoch {self.epoch}, iteration {inner} (position {expected}); "
                "restore the sampler state from the same checkpoint"
            )

    def _train_iter(self, batch: Any) -> None:
        self.call_hook("before_train_iter")
        lr = self.lr
        loss = self.loss_fn(self.model, batch)
        if not isinstance(loss, Tensor) or loss.dim() != 0:
            raise TypeError(f"loss_fn must return a scalar tensor, got {loss!r}")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        sampler = self.sampler
        if isinstance(sampler, ResumableSampler):
            sampler.advance(min(self.loader.batch_size, sampler.dataset_size - sampler.position))
        self.iter += 1
        self.outputs = {"loss": loss.item(), "lr": lr}
        self.call_hook("after_train_iter")

    def _end_epoch(self) -> None:
        self.call_hook("after_train_epoch")
        self.epoch += 1

    def run(self) -> None:
        """Trains from ``(iter, epoch)`` until ``iter == max_iters``, calling the hooks."""
        self._check_position()
        self.model.train()
        self.call_hook("before_run")
        while self.iter < self.max_iters:
            if self.inner_iter == self.epoch_length:  # resumed right after an epoch's last batch
                self._end_epoch()
                continue
            if self.inner_iter == 0:
                if hasattr(self.sampler, "set_epoch"):
                    self.sampler.set_epoch(self.epoch)
                self.call_hook("before_train_epoch")
            # Creating a DataLoader iterator draws a seed from the global RNG; keep the
            # global RNG untouched so that a resumed run sees the same random numbers.
            rng = torch.get_rng_state()
            batches = iter(self.loader)
            torch.set_rng_state(rng)
            for batch in batches:
                self._train_iter(batch)
                if self.inner_iter == self.epoch_length or self.iter >= self.max_iters:
                    break
            if self.inner_iter == self.epoch_length:
                self._end_epoch()
            elif self.iter < self.max_iters:
                raise RuntimeError(
                    f"the loader stopped after {self.inner_iter} of {self.epoch_length} batches"
                )
        self.call_hook("after_run")
