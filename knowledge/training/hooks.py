r"""Hooks, in both senses: PyTorch module hooks and mm-style training-loop hooks.

A hook is a function handed to someone else's code, which calls it back at a fixed point:
inversion of control. PyTorch calls **module hooks** around ``forward`` and ``backward`` of
an ``nn.Module``; each ``register_*`` call returns a handle whose ``remove()`` unregisters
it. [`FeatureExtractor`][knowledge.training.FeatureExtractor] and
[`trace_shapes`][knowledge.training.trace_shapes] are built on forward hooks and always remove
their handles.

A training loop calls **loop hooks** ([`Hook`][knowledge.training.Hook] and its subclasses)
before and after the run, each epoch and each iteration, as mmengine's runner does; see
[`Runner`][knowledge.training.Runner].
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import Tensor, nn

from knowledge.training.checkpoint import save_checkpoint
from knowledge.training.iter_epoch import ResumableSampler

if TYPE_CHECKING:
    from types import TracebackType

    from torch.utils.hooks import RemovableHandle

    from knowledge.training.iter_epoch import Runner

__all__ = [
    "CheckpointHook",
    "FeatureExtractor",
    "Hook",
    "LoggerHook",
    "LrRecorderHook",
    "ShapeRow",
    "trace_shapes",
]


def _shape(value: Any) -> tuple[int, ...] | list[Any] | None:
    """The shape of a tensor, or the shapes inside a tuple/list output."""
    if isinstance(value, Tensor):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)):
        shapes = [_shape(v) for v in value]
        return shapes[0] if len(shapes) == 1 else shapes
    return None


class FeatureExtractor:
    r"""Context manager that captures the outputs of named submodules.

    On entry it registers one forward hook per name; every forward pass inside the block
    stores (detached) outputs under those names, and on exit the hooks are removed, also
    when the block raises. Names are those of ``model.named_modules()``, for example
    ``"layer2.0.conv1"``.

    Args:
        model: the network to observe; it is not modified.
        layer_names: names of the submodules whose outputs to keep.
        detach: store ``output.detach()`` (default) so the features do not keep the autograd
            graph alive; ``False`` keeps the graph, for losses on intermediate features.

    Examples:
        >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        >>> with FeatureExtractor(net, ["0", "2"]) as features:
        ...     _ = net(torch.zeros(1, 3, 8, 8))
        >>> {name: tuple(f.shape) for name, f in features.items()}
        {'0': (1, 8, 8, 8), '2': (1, 8, 4, 4)}
        >>> len(net[0]._forward_hooks)  # removed on exit
        0
    """

    def __init__(self, model: nn.Module, layer_names: Iterable[str], *, detach: bool = True):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if isinstance(layer_names, str):
            raise TypeError(f"layer_names must be a list of names, got the string {layer_names!r}")
        self.layer_names = list(layer_names)
        modules = dict(model.named_modules())
        unknown = [n for n in self.layer_names if n not in modules]
        if unknown:
            known = [n for n in modules if n][:12]
            raise ValueError(f"unknown layer names {unknown}; the model has e.g. {known}")
        self.model, self.detach = model, detach
        self._modules = [modules[n] for n in self.layer_names]
        self._handles: list[RemovableHandle] = []
        self.features: dict[str, Any] = {}

    def _hook(self, name: str) -> Any:
        def store(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if self.detach and isinstance(output, Tensor):
                output = output.detach()
            self.features[name] = output

        return store

    def __enter__(self) -> dict[str, Any]:
        self.features.clear()
        for name, module in zip(self.layer_names, self._modules, strict=True):
            self._handles.append(module.register_forward_hook(self._hook(name)))
        return self.features

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


class ShapeRow(NamedTuple):
    """One row of [`trace_shapes`][knowledge.training.trace_shapes]: a leaf module call."""

    name: str
    type: str
    input_shape: tuple[int, ...] | list[Any] | None
    output_shape: tuple[int, ...] | list[Any] | None
    params: int


def trace_shapes(model: nn.Module, *inputs: Any) -> list[ShapeRow]:
    r"""Runs ``model(*inputs)`` once and records every leaf module's input and output shape.

    A forward hook on each leaf module (one without children) writes a row in call order,
    so a module called twice appears twice. The pass runs under ``torch.no_grad()`` and in
    eval mode, so BatchNorm running statistics are not touched; the modules' train/eval
    flags are restored afterwards and all hooks are removed, even if the forward raises.

    Args:
        model: the network.
        *inputs: its forward arguments, for example a batch of shape (B, C, H, W).

    Returns:
        One [`ShapeRow`][knowledge.training.ShapeRow] per leaf call: name, class name, shape of
        the first input, output shape, and the number of the module's own parameters.

    Examples:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4))
        >>> for row in trace_shapes(net, torch.zeros(2, 3, 8, 8)):
        ...     print(row.name, row.type, row.input_shape, row.output_shape, row.params)
        0 Conv2d (2, 3, 8, 8) (2, 4, 4, 4) 112
        1 BatchNorm2d (2, 4, 4, 4) (2, 4, 4, 4) 8
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    rows: list[ShapeRow] = []

    def make_hook(name: str) -> Any:
        def record(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            params = sum(p.numel() for p in module.parameters(recurse=False))
            first = _shape(args[0]) if args else None
            rows.append(ShapeRow(name, type(module).__name__, first, _shape(output), params))

        return record

    modes = {m: m.training for m in model.modules()}
    handles = [
        m.register_forward_hook(make_hook(name))
        for name, m in model.named_modules()
        if next(m.children(), None) is None
    ]
    try:
        model.eval()
        with torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    return rows


class Hook:
    """Base class of training-loop hooks: six no-op methods, each given the runner.

    Subclass it and override the points you need. [`Runner`][knowledge.training.Runner] calls them
    in this order: ``before_run``; per epoch ``before_train_epoch``; per iteration
    ``before_train_iter`` and ``after_train_iter``; ``after_train_epoch``; ``after_run``.
    In ``after_train_iter``, ``runner.iter`` already counts the finished iteration and
    ``runner.outputs`` holds its ``loss`` and the ``lr`` it used.

    Examples:
        A hook that notes every finished epoch, in a loop of 2 batches per epoch:

        >>> from knowledge.training import Runner
        >>> class CountEpochs(Hook):
        ...     def __init__(self):
        ...         self.seen = []
        ...
        ...     def after_train_epoch(self, runner):
        ...         self.seen.append((runner.epoch, runner.iter))
        >>> data = torch.utils.data.TensorDataset(torch.zeros(4, 1), torch.ones(4, 1))
        >>> net, hook = nn.Linear(1, 1), CountEpochs()
        >>> Runner(
        ...     net,
        ...     torch.optim.SGD(net.parameters(), lr=0.1),
        ...     torch.utils.data.DataLoader(data, batch_size=2),
        ...     loss_fn=lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
        ...     max_epochs=3,
        ...     hooks=[hook],
        ... ).run()
        >>> hook.seen  # (epoch, iterations done) when each epoch ends
        [(0, 2), (1, 4), (2, 6)]
    """

    def before_run(self, runner: Runner) -> None:
        """Called once, before the first iteration."""

    def before_train_epoch(self, runner: Runner) -> None:
        """Called at the start of each epoch."""

    def before_train_iter(self, runner: Runner) -> None:
        """Called before each iteration's forward pass."""

    def after_train_iter(self, runner: Runner) -> None:
        """Called after each optimizer and scheduler step."""

    def after_train_epoch(self, runner: Runner) -> None:
        """Called after the last iteration of each complete epoch."""

    def after_run(self, runner: Runner) -> None:
        """Called once, when training stops."""


def _check_interval(interval: int) -> int:
    if isinstance(interval, bool) or not isinstance(interval, int):
        raise TypeError(f"interval must be an int, got {interval!r}")
    if interval < 1:
        raise ValueError(f"interval must be >= 1, got {interval}")
    return interval


class LoggerHook(Hook):
    r"""Every ``interval`` iterations, appends a record of the loss and learning rate.

    The loss of a record is the mean over the iterations since the previous record, as
    mmengine's logger smooths it; the ``lr`` is the one the last of them used. Records
    are kept in ``records`` (nothing is printed: the caller decides what to show).

    Args:
        interval: iterations between two records.

    Examples:
        >>> from knowledge.training import Runner
        >>> data = torch.utils.data.TensorDataset(torch.zeros(6, 1), torch.ones(6, 1))
        >>> net, logger = nn.Linear(1, 1), LoggerHook(interval=2)
        >>> Runner(
        ...     net,
        ...     torch.optim.SGD(net.parameters(), lr=0.1),
        ...     torch.utils.data.DataLoader(data, batch_size=2),
        ...     loss_fn=lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
        ...     max_iters=5,
        ...     hooks=[logger],
        ... ).run()
        >>> [(r["iter"], r["epoch"], r["lr"]) for r in logger.records]
        [(2, 0, 0.1), (4, 1, 0.1)]
    """

    def __init__(self, interval: int = 10) -> None:
        self.interval = _check_interval(interval)
        self.records: list[dict[str, float | int]] = []
        self._losses: list[float] = []

    def before_run(self, runner: Runner) -> None:
        """Starts a new loss window."""
        self._losses.clear()

    def after_train_iter(self, runner: Runner) -> None:
        """Collects the loss; writes a record on every ``interval``-th iteration."""
        self._losses.append(runner.outputs["loss"])
        if runner.iter % self.interval == 0:
            self.records.append(
                {
                    "iter": runner.iter,
                    "epoch": runner.epoch,
                    "loss": sum(self._losses) / len(self._losses),
                    "lr": runner.outputs["lr"],
                }
            )
            self._losses.clear()


class LrRecorderHook(Hook):
    """Records the learning rate that each iteration used, in ``lrs``.

    The loop steps the scheduler; this hook only reads ``runner.outputs["lr"]``, the first
    parameter group's LR at the moment of the optimizer step.

    Examples:
        >>> from knowledge.training import Runner
        >>> data = torch.utils.data.TensorDataset(torch.zeros(4, 1), torch.ones(4, 1))
        >>> net, lrs = nn.Linear(1, 1), LrRecorderHook()
        >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
        >>> Runner(
        ...     net,
        ...     opt,
        ...     torch.utils.data.DataLoader(data, batch_size=1),
        ...     loss_fn=lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
        ...     scheduler=torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
        ...     max_iters=5,
        ...     hooks=[lrs],
        ... ).run()
        >>> lrs.lrs
        [0.1, 0.1, 0.05, 0.05, 0.025]
    """

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def after_train_iter(self, runner: Runner) -> None:
        """Appends the LR of the iteration that just finished."""
        self.lrs.append(runner.outputs["lr"])


class CheckpointHook(Hook):
    """Every ``interval`` iterations, saves a resumable checkpoint ``iter_<n>.pth``.

    It calls [`save_checkpoint`][knowledge.training.save_checkpoint] with the model, optimizer,
    scheduler, the counters and, when the loader uses a ``ResumableSampler``, the sampler
    position, so [`resume`][knowledge.training.resume] can continue bit for bit.

    Args:
        interval: iterations between two checkpoints.
        out_dir: folder for the files; created if missing.

    Examples:
        >>> import tempfile
        >>> from knowledge.training import Runner
        >>> data = torch.utils.data.TensorDataset(torch.zeros(4, 1), torch.ones(4, 1))
        >>> net = nn.Linear(1, 1)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     hook = CheckpointHook(interval=3, out_dir=tmp)
        ...     Runner(
        ...         net,
        ...         torch.optim.SGD(net.parameters(), lr=0.1),
        ...         torch.utils.data.DataLoader(data, batch_size=1),
        ...         loss_fn=lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
        ...         max_iters=7,
        ...         hooks=[hook],
        ...     ).run()
        ...     [p.name for p in hook.saved]
        ['iter_3.pth', 'iter_6.pth']
    """

    def __init__(self, interval: int, out_dir: str | Path) -> None:
        self.interval = _check_interval(interval)
        self.out_dir = Path(out_dir)
        self.saved: list[Path] = []

    def meta(self, runner: Runner) -> dict[str, Any] | None:
        """Extra data stored in the checkpoint's ``meta``; none here, subclasses add theirs."""
        return None

    def save(self, runner: Runner) -> Path:
        """Writes ``iter_<n>.pth`` for the runner's current state and records its path."""
        sampler = runner.sampler
        path = save_checkpoint(
            self.out_dir / f"iter_{runner.iter}.pth",
            model=runner.model,
            optimizer=runner.optimizer,
            scheduler=runner.scheduler,
            iteration=runner.iter,
            epoch=runner.epoch,
            sampler_state=sampler.state_dict() if isinstance(sampler, ResumableSampler) else None,
            meta=self.meta(runner),
        )
        self.saved.append(path)
        return path

    def after_train_iter(self, runner: Runner) -> None:
        """Saves when ``runner.iter`` is a multiple of ``interval``."""
        if runner.iter % self.interval == 0:
            self.save(runner)
