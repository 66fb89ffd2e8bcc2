r"""Training a small segmentor on the shapes dataset, end to end, on a CPU.

Every piece comes from the rest of ``knowledge``:

* **data**: [`ShapesDataset`][knowledge.tutorial.ShapesDataset], read through a
  ``DataLoader`` whose [`ResumableSampler`][knowledge.training.ResumableSampler] can restart
  in the middle of an epoch;
* **model**: ``MODELS.build`` of an [`EncoderDecoder`][knowledge.models.EncoderDecoder] config
  with the small CNN backbone [`TinyCNN`][knowledge.tutorial.TinyCNN] and a
  [`UPerHead`][knowledge.models.UPerHead] (PPM on the coarsest map, FPN fusion);
* **optimisation**: AdamW, per-pixel cross-entropy that skips ``IGNORE_INDEX``, and
  [`WarmupPolyLR`][knowledge.training.WarmupPolyLR]: linear warmup, then poly decay,
  stepped once per iteration;
* **loop**: the iteration-based [`Runner`][knowledge.training.Runner] with hooks:
  [`LoggerHook`][knowledge.training.LoggerHook] (loss),
  [`LrRecorderHook`][knowledge.training.LrRecorderHook],
  [`EvalHook`][knowledge.tutorial.EvalHook] (validation mIoU with
  [`SegmentationMetric`][knowledge.metrics.SegmentationMetric]),
  [`RunCheckpointHook`][knowledge.tutorial.RunCheckpointHook] and a text
  [`ProgressBar`][knowledge.tutorial.ProgressBar];
* **resume**: [`resume`][knowledge.training.resume] restores weights, optimizer, scheduler,
  sampler position and RNG states, so an interrupted run continues bit for bit.

Run it from a shell with ``python -m knowledge.tutorial.train --help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from knowledge import prefetch
from knowledge.blocks import conv_norm_relu
from knowledge.metrics import SegmentationMetric
from knowledge.registry import MODELS, norm_factory
from knowledge.training import (
    CheckpointError,
    CheckpointHook,
    Hook,
    LoggerHook,
    LrRecorderHook,
    ResumableSampler,
    Runner,
    WarmupPolyLR,
    resume,
)
from knowledge.tutorial.shapes import (
    CLASSES,
    IGNORE_INDEX,
    NUM_CLASSES,
    NUM_TRAIN,
    NUM_VAL,
    ShapesDataset,
    _torch_threads,
    majority_baseline,
    normalize,
)

if __name__ == "__main__":
    # ``python -m knowledge.tutorial.train`` runs this file a second time, as ``__main__``,
    # after the package has imported it as ``knowledge.tutorial.train``. Hand over to that
    # module at once instead of defining (and registering) every class twice.
    from knowledge.tutorial.train import main as _main

    sys.exit(_main())

__all__ = [
    "EvalHook",
    "ProgressBar",
    "RunCheckpointHook",
    "TinyCNN",
    "TrainConfig",
    "TrainResult",
    "TutorialRun",
    "build_model",
    "evaluate",
    "fit",
    "format_metrics",
    "main",
    "model_config",
    "predict",
    "tutorial_run",
]


# ------------------------------------------------------------------------------ model
@MODELS.register()
class TinyCNN(nn.Module):
    r"""A small CNN backbone for 64×64 images: one stage per entry of ``widths``.

    Each stage halves the resolution with a stride-2 3×3 convolution and adds a stride-1
    3×3 convolution, both followed by norm and ReLU, so stage $s$ (from 0) has stride
    $2^{s+1}$: on a $64 \times 64$ image the maps are $32^2$, $16^2$, $8^2$ and $4^2$.

    Args:
        in_channels: image channels.
        widths: channels of the stages (four by default).
        norm_layer: a factory ``C -> module`` (default BatchNorm2d) or a norm config dict
            such as ``dict(type="GN", num_groups=4)``.

    Raises:
        ValueError: if ``widths`` is empty or holds a value < 1; in ``forward``, if the
            input is not (B, in_channels, H, W).

    Examples:
        >>> net = TinyCNN(widths=(4, 8, 8, 16)).eval()
        >>> [tuple(f.shape) for f in net(torch.zeros(1, 3, 64, 64))]
        [(1, 4, 32, 32), (1, 8, 16, 16), (1, 8, 8, 8), (1, 16, 4, 4)]
    """

    def __init__(
        self,
        in_channels: int = 3,
        *,
        widths: Sequence[int] = (16, 32, 64, 96),
        norm_layer: Callable[[int], nn.Module] | Mapping[str, Any] = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        widths = tuple(widths)
        bad = [w for w in widths if isinstance(w, bool) or not isinstance(w, int) or w < 1]
        if not widths or bad:
            raise ValueError(f"widths must be a non-empty sequence of ints >= 1, got {widths!r}")
        self.in_channels, self.widths = in_channels, widths
        make_norm = norm_factory(norm_layer)
        self.stages = nn.ModuleList()
        c_in = in_channels
        for width in widths:
            down = OrderedDict(
                conv=nn.Conv2d(c_in, width, 3, stride=2, padding=1, bias=False),
                norm=make_norm(width),
                relu=nn.ReLU(inplace=True),
            )
            self.stages.append(
                nn.Sequential(
                    OrderedDict(
                        down=nn.Sequential(down),
                        conv=conv_norm_relu(width, width, 3, norm_layer=make_norm),
                    )
                )
            )
            c_in = width

    def forward(self, x: Tensor) -> list[Tensor]:
        """Computes the feature maps of all stages.

        Args:
            x: images of shape (B, in_channels, H, W).

        Returns:
            One map per stage, finest first: (B, widths[s], H / 2^(s+1), W / 2^(s+1)),
            sizes rounded up.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"TinyCNN expects images of shape (B, {self.in_channels}, H, W), "
                f"got {tuple(x.shape)}"
            )
        outs = []
        for stage in self.stages:
            x = stage(x)  # (B, C_s, H_s, W_s), H_s = ceil(H_{s-1} / 2)
            outs.append(x)
        return outs


# ------------------------------------------------------------------------------ config
@dataclass(frozen=True)
class TrainConfig:
    r"""Everything that defines a training run; two runs with equal configs are identical.

    Lengths are in iterations (one mini-batch each). With the defaults an epoch of 1,600
    images is 100 iterations, so the run lasts 2.4 epochs.

    Args:
        iters: total iterations $N$ of the schedule.
        batch_size: images per iteration.
        lr: peak learning rate $\eta_0$ of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        warmup_iters: iterations $W$ of linear warmup.
        warmup_ratio: the warmup's starting factor $r$.
        power: exponent $p$ of the poly decay.
        log_interval: iterations between two loss records.
        eval_interval: iterations between two validation runs (the last iteration is
            always evaluated).
        checkpoint_interval: iterations between two checkpoints when an output folder is
            given (0: only when the run stops); a multiple of ``log_interval``.
        seed: seed of the weights' initialisation and of the data order.
        data_seed: seed of the dataset.
        num_train: training images.
        num_val: validation images.
        widths: channels of the backbone's four stages.
        channels: channels inside the decode head.
        pool_scales: the PPM's pooled grid sizes.
        aux_weight: weight of the auxiliary FCN head's loss (mmseg uses 0.4); 0 builds
            the model without it.
        num_threads: torch's intra-op threads while training (restored afterwards). One by
            default: this model is too small to gain from more, a busy second core would
            stall every parallel region, and a fixed count keeps the result bitwise
            reproducible whatever the machine's default.

    Raises:
        TypeError: if a field has the wrong type.
        ValueError: if a field is out of range; the message names it.

    Examples:
        >>> TrainConfig().iters, TrainConfig(iters=50, warmup_iters=5).iters
        (240, 50)
        >>> TrainConfig(iters=0)
        Traceback (most recent call last):
            ...
        ValueError: TrainConfig.iters must be >= 1, got 0
    """

    iters: int = 240
    batch_size: int = 16
    lr: float = 1e-2
    weight_decay: float = 0.01
    warmup_iters: int = 24
    warmup_ratio: float = 0.1
    power: float = 1.0
    log_interval: int = 10
    eval_interval: int = 60
    checkpoint_interval: int = 0
    seed: int = 0
    data_seed: int = 0
    num_train: int = NUM_TRAIN
    num_val: int = NUM_VAL
    widths: tuple[int, ...] = (16, 32, 64, 96)
    channels: int = 24
    pool_scales: tuple[int, ...] = (1, 2, 4)
    aux_weight: float = 0.0
    num_threads: int = 1

    def __post_init__(self) -> None:
        minimum = {"iters": 1, "batch_size": 1, "warmup_iters": 0, "log_interval": 1}
        minimum |= {"eval_interval": 1, "checkpoint_interval": 0, "seed": 0, "data_seed": 0}
        minimum |= {"num_train": 1, "num_val": 1, "channels": 1, "num_threads": 1}
        for name, low in minimum.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"TrainConfig.{name} must be an int, got {value!r}")
            if value < low:
                raise ValueError(f"TrainConfig.{name} must be >= {low}, got {value}")
        for name in ("lr", "weight_decay", "warmup_ratio", "power", "aux_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"TrainConfig.{name} must be a number, got {value!r}")
        for name, ok, rule in (
            ("lr", self.lr > 0, "> 0"),
            ("power", self.power > 0, "> 0"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("aux_weight", self.aux_weight >= 0, ">= 0"),
        ):
            if not ok:
                raise ValueError(f"TrainConfig.{name} must be {rule}, got {getattr(self, name)}")
        if not 0 < self.warmup_ratio <= 1:
            raise ValueError(f"TrainConfig.warmup_ratio must be in (0, 1], got {self.warmup_ratio}")
        if self.warmup_iters >= self.iters:
            raise ValueError(
                f"TrainConfig.warmup_iters={self.warmup_iters} must be less than iters={self.iters}"
            )
        if self.checkpoint_interval % self.log_interval:
            raise ValueError(
                f"TrainConfig.checkpoint_interval={self.checkpoint_interval} must be a "
                f"multiple of log_interval={self.log_interval}, so that a resumed run "
                "continues the loss log exactly"
            )
        for name, length in (("widths", 4), ("pool_scales", None)):
            value = getattr(self, name)
            value = tuple(value) if isinstance(value, (list, tuple)) else value
            ok = isinstance(value, tuple) and len(value) == (length or len(value)) > 0
            if not ok or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value):
                count = "4" if length else "one or more"
                raise ValueError(f"TrainConfig.{name} must hold {count} ints >= 1, got {value!r}")
            object.__setattr__(self, name, value)  # a list (from JSON) becomes a tuple

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON- and checkpoint-safe)."""
        return dataclasses.asdict(self)


def model_config(config: TrainConfig) -> dict[str, Any]:
    """The model as a config dict for [`MODELS.build`][knowledge.registry.Registry.build].

    The decode head is a [`UPerHead`][knowledge.models.UPerHead]: it reads the stride-4, 8
    and 16 maps (``in_index=(1, 2, 3)``), runs a PPM on the coarsest one and returns logits
    at stride 4, which the segmentor upsamples bilinearly to the image. With
    ``aux_weight > 0`` an [`FCNHead`][knowledge.models.FCNHead] on the stride-8 map adds
    an auxiliary loss during training, as in mmseg's UPerNet configs.

    Args:
        config: the run's configuration.

    Returns:
        A nested dict with ``type="EncoderDecoder"``.

    Examples:
        >>> cfg = model_config(TrainConfig())
        >>> cfg["backbone"]["type"], cfg["decode_head"]["type"], cfg["decode_head"]["in_index"]
        ('TinyCNN', 'UPerHead', (1, 2, 3))
    """
    cfg: dict[str, Any] = {
        "type": "EncoderDecoder",
        "backbone": {"type": "TinyCNN", "widths": config.widths},
        "decode_head": {
            "type": "UPerHead",
            "in_channels": config.widths[1:],
            "in_index": (1, 2, 3),
            "channels": config.channels,
            "num_classes": NUM_CLASSES,
            "pool_scales": config.pool_scales,
            "dropout_ratio": 0.0,
        },
    }
    if config.aux_weight > 0:
        cfg["auxiliary_head"] = {
            "type": "FCNHead",
            "in_channels": config.widths[2],
            "in_index": 2,
            "channels": config.channels,
            "num_classes": NUM_CLASSES,
            "num_convs": 1,
            "concat_input": False,
            "dropout_ratio": 0.0,
        }
    return cfg


def build_model(config: TrainConfig) -> nn.Module:
    """Builds the segmentor of ``model_config(config)``; seed torch first for fixed weights.

    Args:
        config: the run's configuration.

    Returns:
        An [`EncoderDecoder`][knowledge.models.EncoderDecoder] mapping (B, 3, 64, 64) images
        to (B, 5, 64, 64) logits.

    Examples:
        >>> model = build_model(TrainConfig()).eval()
        >>> model(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 5, 64, 64])
    """
    return MODELS.build(model_config(config))


# ------------------------------------------------------------------------------ evaluation
@torch.no_grad()
def predict(model: nn.Module, images: Tensor, *, batch_size: int = 100) -> Tensor:
    """Label maps for ``uint8`` images, in eval mode (the mode is restored afterwards).

    Args:
        model: the segmentor.
        images: ``uint8`` images of shape (N, 3, H, W).
        batch_size: images per forward pass.

    Returns:
        int64 labels of shape (N, H, W): the argmax over the class logits.

    Examples:
        >>> model = build_model(TrainConfig(widths=(4, 8, 8, 8), channels=8))
        >>> images = ShapesDataset("val", num_train=4, num_val=2).images
        >>> predict(model, images).shape, model.training  # back in train mode
        (torch.Size([2, 64, 64]), True)
    """
    was_training = model.training
    model.eval()
    try:
        parts = [
            # max(1).indices is argmax(1), several times faster on CPU: (b, K, H, W) -> (b, H, W)
            model(normalize(images[i : i + batch_size])).max(1).indices
            for i in range(0, len(images), batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(parts) if parts else torch.zeros(0, *images.shape[2:], dtype=torch.long)


def evaluate(model: nn.Module, dataset: ShapesDataset, *, batch_size: int = 100) -> dict[str, Any]:
    """Validation metrics of ``model`` on a whole dataset, from one confusion matrix.

    Args:
        model: the segmentor.
        dataset: the images and labels to score.
        batch_size: images per forward pass.

    Returns:
        [`SegmentationMetric.compute`][knowledge.metrics.SegmentationMetric.compute] of the
        predictions: ``aAcc``, ``mIoU``, ``mAcc``, per-class ``IoU`` and ``Acc``.

    Examples:
        >>> model = build_model(TrainConfig(widths=(4, 8, 8, 8), channels=8))
        >>> scores = evaluate(model, ShapesDataset("val", num_train=4, num_val=2))
        >>> sorted(scores), 0 <= scores["mIoU"] <= 1
        (['Acc', 'IoU', 'aAcc', 'confusion_matrix', 'mAcc', 'mIoU'], True)
    """
    metric = SegmentationMetric(NUM_CLASSES, ignore_index=IGNORE_INDEX)
    metric.update(predict(model, dataset.images, batch_size=batch_size), dataset.labels)
    return metric.compute()


def format_metrics(metrics: dict[str, Any], *, classes: Sequence[str] = CLASSES) -> str:
    """The metrics as a fixed-width text table: per-class IoU and Acc, then the summary.

    Args:
        metrics: the output of ``SegmentationMetric.compute`` (or ``evaluate``).
        classes: class names, in label order.

    Returns:
        The table; its summary lines read ``aAcc``, ``mIoU`` and ``mAcc`` followed by the
        value with four decimals.

    Examples:
        >>> print(format_metrics({"IoU": [0.5, 1.0], "Acc": [0.75, 1.0], "aAcc": 0.8,
        ...                       "mIoU": 0.75, "mAcc": 0.875}, classes=("a", "b")))
        class          IoU     Acc
        a           0.5000  0.7500
        b           1.0000  1.0000
        --------------------------
        aAcc        0.8000
        mIoU        0.7500
        mAcc        0.8750
    """
    lines = [f"{'class':<10}{'IoU':>8}{'Acc':>8}"]
    for name, iou, acc in zip(classes, metrics["IoU"], metrics["Acc"], strict=True):
        lines.append(f"{name:<10}{iou:>8.4f}{acc:>8.4f}")
    lines.append("-" * 26)
    lines += [f"{key:<10}{metrics[key]:>8.4f}" for key in ("aAcc", "mIoU", "mAcc")]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ hooks
class EvalHook(Hook):
    """Every ``interval`` iterations and at the last one, scores the model on a dataset.

    Args:
        dataset: the validation split.
        interval: iterations between two evaluations.
        final_iter: an iteration that is always evaluated (the end of the schedule).

    Attributes:
        records: one dict per evaluation with ``iter``, ``mIoU``, ``aAcc`` and ``mAcc``.
        last: the full metrics of the latest evaluation, per-class lists included.

    Examples:
        The hook only reads ``runner.iter`` and ``runner.model``:

        >>> from types import SimpleNamespace
        >>> model = build_model(TrainConfig(widths=(4, 8, 8, 8), channels=8))
        >>> hook = EvalHook(ShapesDataset("val", num_train=4, num_val=2), interval=50,
        ...                 final_iter=2)
        >>> hook.after_train_iter(SimpleNamespace(iter=1, model=model))  # not due
        >>> hook.after_train_iter(SimpleNamespace(iter=2, model=model))  # the final one
        >>> [r["iter"] for r in hook.records], sorted(hook.records[0])
        ([2], ['aAcc', 'iter', 'mAcc', 'mIoU'])
    """

    def __init__(self, dataset: ShapesDataset, *, interval: int, final_iter: int) -> None:
        self.dataset, self.interval, self.final_iter = dataset, interval, final_iter
        self.records: list[dict[str, float | int]] = []
        self.last: dict[str, Any] | None = None

    def after_train_iter(self, runner: Runner) -> None:
        """Evaluates when ``runner.iter`` is a multiple of ``interval`` or the final one."""
        if runner.iter % self.interval and runner.iter != self.final_iter:
            return
        self.last = evaluate(runner.model, self.dataset)
        self.records.append(
            {"iter": runner.iter, **{k: self.last[k] for k in ("mIoU", "aAcc", "mAcc")}}
        )


class ProgressBar(Hook):
    r"""A one-line text progress bar, redrawn with ``\r`` after every iteration.

    Shows iterations done, the loss, the learning rate and the latest validation mIoU (read
    from an [`EvalHook`][knowledge.tutorial.EvalHook], if given). It writes to ``stream``,
    by default standard error, so standard output keeps only results.

    Args:
        total: the iteration at which the bar is full.
        stream: where to write.
        width: characters of the bar itself.
        evaluator: the hook whose latest mIoU to show.

    Examples:
        >>> import io
        >>> from types import SimpleNamespace
        >>> out = io.StringIO()
        >>> bar = ProgressBar(4, stream=out, width=8)
        >>> bar.after_train_iter(SimpleNamespace(iter=1, outputs={"loss": 1.5, "lr": 1e-3}))
        >>> out.getvalue()
        '\r[##------] 1/4 loss 1.5000 lr 1.00e-03'
    """

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        width: int = 24,
        evaluator: EvalHook | None = None,
    ) -> None:
        self.total, self.stream, self.width, self.evaluator = total, stream, width, evaluator

    def after_train_iter(self, runner: Runner) -> None:
        """Redraws the line."""
        stream = self.stream or sys.stderr
        filled = self.width * runner.iter // self.total
        bar = "#" * filled + "-" * (self.width - filled)
        text = f"\r[{bar}] {runner.iter}/{self.total} loss {runner.outputs['loss']:.4f}"
        text += f" lr {runner.outputs['lr']:.2e}"
        if self.evaluator is not None and self.evaluator.records:
            text += f" val mIoU {self.evaluator.records[-1]['mIoU']:.4f}"
        stream.write(text)
        stream.flush()

    def after_run(self, runner: Runner) -> None:
        """Ends the line."""
        (self.stream or sys.stderr).write("\n")


class RunCheckpointHook(CheckpointHook):
    """A [`CheckpointHook`][knowledge.training.CheckpointHook] that also saves the run's log.

    Besides everything ``CheckpointHook`` saves, the checkpoint's ``meta`` holds the
    config and the records of the logging hooks, so a resumed run continues its curves.
    It saves every ``interval`` iterations (``interval=0``: never in between) and, if that
    iteration was not saved yet, when the run stops.

    Args:
        interval: iterations between two checkpoints; 0 saves only at the end.
        out_dir: folder for ``iter_<n>.pth``.
        config: the run's configuration.
        logger: the loss log to save.
        lrs: the learning-rate log to save.
        evaluator: the validation log to save.

    Examples:
        [`fit`][knowledge.tutorial.fit] adds this hook when given an output folder:

        >>> import tempfile
        >>> cfg = TrainConfig(iters=4, batch_size=4, warmup_iters=1, log_interval=2,
        ...                   checkpoint_interval=2, num_train=8, num_val=4,
        ...                   widths=(4, 8, 8, 8), channels=8)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     result = fit(cfg, out_dir=tmp)
        ...     meta = torch.load(result.checkpoints[0], weights_only=True)["meta"]
        >>> [p.name for p in result.checkpoints], sorted(meta["history"])
        (['iter_2.pth', 'iter_4.pth'], ['evals', 'losses', 'lrs'])
        >>> meta["config"]["iters"], len(meta["history"]["lrs"])  # saved after iteration 2
        (4, 2)
    """

    def __init__(
        self,
        interval: int,
        out_dir: str | Path,
        *,
        config: TrainConfig,
        logger: LoggerHook,
        lrs: LrRecorderHook,
        evaluator: EvalHook,
    ) -> None:
        super().__init__(interval=max(interval, 1), out_dir=out_dir)
        self.every, self.config = interval, config
        self.logger, self.lrs, self.evaluator = logger, lrs, evaluator

    def meta(self, runner: Runner) -> dict[str, Any]:
        """The configuration and the three logs, so that a resumed run continues them."""
        history = {
            "losses": list(self.logger.records),
            "lrs": list(self.lrs.lrs),
            "evals": list(self.evaluator.records),
        }
        return {"config": self.config.to_dict(), "history": history}

    def after_train_iter(self, runner: Runner) -> None:
        """Saves every ``interval`` iterations."""
        if self.every and runner.iter % self.every == 0:
            self.save(runner)

    def after_run(self, runner: Runner) -> None:
        """Saves the final state unless it was just saved."""
        if not self.saved or self.saved[-1].name != f"iter_{runner.iter}.pth":
            self.save(runner)


# ------------------------------------------------------------------------------ training
@dataclass
class TrainResult:
    """What a call of [`fit`][knowledge.tutorial.fit] returns.

    Attributes:
        config: the configuration.
        model: the trained segmentor, in train mode.
        start_iter: the iteration this call started from (0, or the resumed one).
        iter: iterations done when it stopped.
        losses: [`LoggerHook`][knowledge.training.LoggerHook] records from iteration 0:
            ``iter``, ``epoch``, mean ``loss`` of the window and ``lr``.
        lrs: the learning rate of every iteration from 0.
        evals: [`EvalHook`][knowledge.tutorial.EvalHook] records from iteration 0.
        metrics: the full validation metrics at the end of the schedule; None when the
            run stopped early.
        checkpoints: the files written by this call.

    Examples:
        >>> cfg = TrainConfig(iters=2, batch_size=4, warmup_iters=1, log_interval=1,
        ...                   num_train=4, num_val=2, widths=(4, 8, 8, 8), channels=8)
        >>> result = fit(cfg)
        >>> result.start_iter, result.iter, len(result.lrs), result.metrics is not None
        (0, 2, 2, True)
    """

    config: TrainConfig
    model: nn.Module
    start_iter: int
    iter: int
    losses: list[dict[str, float | int]]
    lrs: list[float]
    evals: list[dict[str, float | int]]
    metrics: dict[str, Any] | None
    checkpoints: list[Path]


def _make_loss(aux_weight: float) -> Any:
    def loss_fn(model: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
        images, labels = batch  # (B, 3, H, W) in [-1, 1], (B, H, W) int64
        if aux_weight == 0:
            return F.cross_entropy(model(images), labels, ignore_index=IGNORE_INDEX)
        logits = model.forward_train(images)  # {"decode": ..., "aux": ...}, each (B, K, H, W)
        loss = F.cross_entropy(logits["decode"], labels, ignore_index=IGNORE_INDEX)
        aux = F.cross_entropy(logits["aux"], labels, ignore_index=IGNORE_INDEX)
        return loss + aux_weight * aux

    return loss_fn


# Fields that change the trained weights; the others only change what is logged or saved.
_RESULT_FIELDS = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.name != "checkpoint_interval"
)


def _plain(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _check_resume_config(path: Path, config: TrainConfig) -> None:
    """Refuses, before anything is loaded, a checkpoint written with another config."""
    try:
        saved = torch.load(path, weights_only=True, map_location="cpu")["meta"]["config"]
    except Exception:  # unreadable files are reported by resume() below
        return
    mine = config.to_dict()
    diff = [
        f"{k}={saved.get(k)!r} (now {mine[k]!r})"
        for k in _RESULT_FIELDS
        if _plain(saved.get(k)) != _plain(mine[k])
    ]
    if diff:
        raise ValueError(
            f"checkpoint {path} was written with another configuration: {', '.join(diff)}; "
            "resuming continues the same run, so the configuration must match"
        )


def fit(
    config: TrainConfig | None = None,
    *,
    resume_from: str | Path | None = None,
    out_dir: str | Path | None = None,
    stop_after: int | None = None,
    progress: TextIO | None = None,
) -> TrainResult:
    r"""Trains (or resumes) the tutorial segmentor; deterministic for a given config.

    Builds the datasets, seeds torch's global RNG with ``config.seed`` and builds the
    model, AdamW and [`WarmupPolyLR`][knowledge.training.WarmupPolyLR], then runs a
    [`Runner`][knowledge.training.Runner] for ``config.iters`` iterations with the hooks of
    this module. Given ``resume_from``, everything is restored from that checkpoint first and
    the loop continues at its iteration; the result then equals, bit for bit, a run that was
    never interrupted (on the same machine and thread count).

    Args:
        config: the run; ``TrainConfig()`` by default.
        resume_from: a checkpoint written by an earlier call with ``out_dir``.
        out_dir: folder for checkpoints (``iter_<n>.pth``); None writes nothing.
        stop_after: stop after this many iterations, as if interrupted (a multiple of
            ``config.log_interval``); the schedule still spans ``config.iters``.
        progress: stream for a [`ProgressBar`][knowledge.tutorial.ProgressBar]; None
            shows none.

    Returns:
        A [`TrainResult`][knowledge.tutorial.TrainResult].

    Raises:
        ValueError: if ``stop_after`` is out of range or the checkpoint was written with
            another configuration.
        FileNotFoundError, CheckpointError: if ``resume_from`` cannot be read.

    Examples:
        A tiny run: 16 images, 4 iterations of batch 4.

        >>> cfg = TrainConfig(iters=4, batch_size=4, warmup_iters=1, log_interval=2,
        ...                   eval_interval=2, num_train=16, num_val=8, widths=(4, 8, 8, 8),
        ...                   channels=8)
        >>> result = fit(cfg)
        >>> result.iter, [r["iter"] for r in result.losses], [r["iter"] for r in result.evals]
        (4, [2, 4], [2, 4])
        >>> len(result.lrs), sorted(result.metrics)[:3]
        (4, ['Acc', 'IoU', 'aAcc'])
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    with _torch_threads(config.num_threads):
        return _train(config, resume_from, out_dir, stop_after, progress)


def _train(
    config: TrainConfig,
    resume_from: str | Path | None,
    out_dir: str | Path | None,
    stop_after: int | None,
    progress: TextIO | None,
) -> TrainResult:
    end = config.iters if stop_after is None else stop_after
    if isinstance(end, bool) or not isinstance(end, int) or not 1 <= end <= config.iters:
        raise ValueError(f"stop_after must be an int in [1, iters={config.iters}], got {end!r}")
    if end % config.log_interval and end != config.iters:
        raise ValueError(
            f"stop_after={end} must be a multiple of log_interval={config.log_interval}"
        )
    train_set = ShapesDataset(
        "train", seed=config.data_seed, num_train=config.num_train, num_val=config.num_val
    )
    val_set = ShapesDataset(
        "val", seed=config.data_seed, num_train=config.num_train, num_val=config.num_val
    )
    torch.manual_seed(config.seed)
    model = build_model(config)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = WarmupPolyLR(
        optimizer,
        max_iters=config.iters,
        power=config.power,
        warmup="linear" if config.warmup_iters else None,
        warmup_iters=config.warmup_iters,
        warmup_ratio=config.warmup_ratio,
    )
    sampler = ResumableSampler(len(train_set), seed=config.seed)
    loader = DataLoader(train_set, batch_size=config.batch_size, sampler=sampler)

    logger, lrs = LoggerHook(interval=config.log_interval), LrRecorderHook()
    evaluator = EvalHook(val_set, interval=config.eval_interval, final_iter=config.iters)
    hooks: list[Hook] = [logger, lrs, evaluator]
    saver = None
    if out_dir is not None:
        saver = RunCheckpointHook(
            config.checkpoint_interval,
            out_dir,
            config=config,
            logger=logger,
            lrs=lrs,
            evaluator=evaluator,
        )
        hooks.append(saver)
    if progress is not None:
        hooks.append(ProgressBar(config.iters, stream=progress, evaluator=evaluator))
    runner = Runner(
        model,
        optimizer,
        loader,
        loss_fn=_make_loss(config.aux_weight),
        scheduler=scheduler,
        max_iters=end,
        hooks=hooks,
    )
    if resume_from is not None:
        path = Path(resume_from)
        if path.is_file():
            _check_resume_config(path, config)
        state = resume(path, model, optimizer, scheduler, sampler=sampler)
        if state.iteration >= end:
            raise ValueError(
                f"checkpoint {path} is at iteration {state.iteration}; nothing is left to do "
                f"before iteration {end}"
            )
        runner.iter, runner.epoch = state.iteration, state.epoch
        history = state.meta["history"]
        logger.records, lrs.lrs = list(history["losses"]), list(history["lrs"])
        evaluator.records = list(history["evals"])
    start = runner.iter
    runner.run()
    finished = runner.iter == config.iters
    return TrainResult(
        config=config,
        model=model,
        start_iter=start,
        iter=runner.iter,
        losses=logger.records,
        lrs=lrs.lrs,
        evals=evaluator.records,
        metrics=evaluator.last if finished else None,
        checkpoints=[] if saver is None else list(saver.saved),
    )


@dataclass
class TutorialRun:
    """The run shown on the tutorial page: interrupted halfway, resumed in a new trainer.

    Attributes:
        config: the configuration (``TrainConfig()``).
        first: the first half, stopped after ``config.iters // 2`` iterations.
        second: the run resumed from the first half's checkpoint, to the end.
        checkpoint_keys: the top-level keys of that checkpoint.
        sampler_state: the sampler position saved in it.
        baseline: [`majority_baseline`][knowledge.tutorial.majority_baseline] on the
            validation labels.

    Examples:
        >>> [f.name for f in dataclasses.fields(TutorialRun)]
        ['config', 'first', 'second', 'checkpoint_keys', 'sampler_state', 'baseline']
    """

    config: TrainConfig
    first: TrainResult
    second: TrainResult
    checkpoint_keys: list[str]
    sampler_state: dict[str, Any]
    baseline: dict[str, float | int]


@functools.lru_cache(maxsize=1)
def tutorial_run() -> TutorialRun:
    """Trains the page's run once per process and caches it (shared by every snippet).

    The default [`TrainConfig`][knowledge.tutorial.TrainConfig] is trained for half of its
    iterations with a checkpoint at the stop, then a new call of
    [`fit`][knowledge.tutorial.fit] resumes from that file and finishes. The checkpoint
    lives in a temporary folder that is deleted afterwards.

    If [`prefetch_tutorial_run`][knowledge.tutorial.prefetch_tutorial_run] started the run
    in a worker process, the first call waits for that result instead of training here.

    Returns:
        A [`TutorialRun`][knowledge.tutorial.TutorialRun].

    Examples:
        Nothing runs until the first call; later calls return the same object:

        >>> tutorial_run.cache_info().maxsize
        1
    """
    prefetched = prefetch.take(PREFETCH_TARGET)
    return prefetched if prefetched is not None else _compute_tutorial_run()


#: What the build starts in a worker process (hooks/site.py names the same target).
PREFETCH_TARGET = "knowledge.tutorial.train:_compute_tutorial_run"


def prefetch_tutorial_run() -> None:
    """Start [`tutorial_run`][knowledge.tutorial.tutorial_run] in a worker process.

    The next call of ``tutorial_run()`` in this process returns the worker's result (waiting
    for it if needed). The site's build calls this when it starts: the training then uses the
    second CPU core while the other pages render, instead of holding up the build for its
    whole length (the build calls ``knowledge.prefetch.start``
    with the same target, which imports nothing here). The worker runs the same code with the
    same single thread, so its result
    is bit for bit what ``tutorial_run()`` would compute here, which the tests check by
    comparing the built page with a standalone run. Does nothing if the run is already
    cached or started.

    Examples:
        >>> callable(prefetch_tutorial_run)
        True
    """
    if not tutorial_run.cache_info().currsize:
        prefetch.start(PREFETCH_TARGET)


def _compute_tutorial_run() -> TutorialRun:
    config = TrainConfig()
    half = config.iters // 2 // config.log_interval * config.log_interval
    with tempfile.TemporaryDirectory() as tmp:
        first = fit(config, out_dir=tmp, stop_after=half)
        path = first.checkpoints[-1]
        saved = torch.load(path, weights_only=True)
        second = fit(config, resume_from=path)
    val = ShapesDataset(
        "val", seed=config.data_seed, num_train=config.num_train, num_val=config.num_val
    )
    baseline = majority_baseline(val.labels)
    return TutorialRun(config, first, second, sorted(saved), saved["sampler"], baseline)


# ------------------------------------------------------------------------------ command line
def _int_at_least(minimum: int, *, multiple_of: int = 1) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        if value % multiple_of:
            raise argparse.ArgumentTypeError(f"must be a multiple of {multiple_of}, got {value}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m knowledge.tutorial.train",
        description="Train the tutorial segmentor (TinyCNN + UPerHead) on the synthetic shapes "
        "dataset. A progress bar goes to stderr; the validation metrics table to stdout.",
    )
    add = parser.add_argument
    add("--iters", metavar="N", type=_int_at_least(1), help=f"total iterations (default {d.iters})")
    add(
        "--batch-size",
        metavar="N",
        type=_int_at_least(1),
        help=f"images per iteration ({d.batch_size})",
    )
    add("--lr", type=_positive_float, help=f"peak learning rate of AdamW ({d.lr})")
    add("--seed", type=_int_at_least(0), help=f"seed of the weights and data order ({d.seed})")
    add(
        "--resume",
        metavar="PATH",
        type=Path,
        help="continue the run saved in this checkpoint, with its configuration",
    )
    add("--out", metavar="DIR", type=Path, help="write iter_<n>.pth and metrics.json here")
    add(
        "--checkpoint-interval",
        metavar="N",
        type=_int_at_least(0, multiple_of=d.log_interval),
        help=f"iterations between checkpoints with --out, a multiple of {d.log_interval}; "
        "0: only at the end (default 50)",
    )
    add("--no-progress", action="store_true", help="do not show the progress bar")
    return parser


def _config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> TrainConfig:
    """A new run's config from the options, or the checkpoint's config when resuming."""
    explicit = {"iters": args.iters, "batch_size": args.batch_size, "lr": args.lr}
    explicit["seed"] = args.seed
    if args.resume is None:
        fields: dict[str, Any] = {k: v for k, v in explicit.items() if v is not None}
        if "iters" in fields:  # keep warmup at 10 % of a shorter run
            fields["warmup_iters"] = min(TrainConfig.warmup_iters, fields["iters"] // 10)
        fields["checkpoint_interval"] = (
            50 if args.checkpoint_interval is None else args.checkpoint_interval
        )
        return TrainConfig(**fields)
    if not args.resume.is_file():
        parser.error(f"argument --resume: no such checkpoint file: {args.resume}")
    try:
        data = torch.load(args.resume, weights_only=True, map_location="cpu")
        saved = dict(data["meta"]["config"])
        config = TrainConfig(**saved)
    except Exception as err:  # any unreadable file gets the same clear message
        first_line = (str(err).splitlines() or [""])[0][:200]
        parser.error(
            f"argument --resume: {args.resume} is not a checkpoint of this tutorial "
            f"({type(err).__name__}: {first_line})"
        )
    for name, value in explicit.items():
        if value is not None and value != getattr(config, name):
            parser.error(
                f"argument --{name.replace('_', '-')}: {value} differs from the checkpoint's "
                f"{name}={getattr(config, name)!r}; a resumed run keeps its configuration"
            )
    if args.checkpoint_interval is not None:
        config = dataclasses.replace(config, checkpoint_interval=args.checkpoint_interval)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``python -m knowledge.tutorial.train [options]``.

    Trains with a progress bar on standard error, prints the validation metrics table on
    standard output and, with ``--out DIR``, writes checkpoints and ``metrics.json`` there.
    Bad arguments end the program with status 2 and a message that names the argument.

    Args:
        argv: the arguments; ``sys.argv[1:]`` by default.

    Returns:
        The exit status, 0 on success.

    Examples:
        >>> import contextlib, io
        >>> err = io.StringIO()
        >>> with contextlib.redirect_stderr(err):
        ...     try:
        ...         main(["--iters", "0"])
        ...     except SystemExit as exit:
        ...         print("exit status", exit.code)
        exit status 2
        >>> print(err.getvalue().splitlines()[-1])
        python -m knowledge.tutorial.train: error: argument --iters: must be an integer >= 1, got 0
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        parser.error(f"argument --out: {args.out} exists and is not a folder")
    config = _config_from_args(args, parser)
    try:
        result = fit(
            config,
            resume_from=args.resume,
            out_dir=args.out,
            progress=None if args.no_progress else sys.stderr,
        )
    except (CheckpointError, ValueError) as err:
        if args.resume is None:
            raise
        parser.error(f"argument --resume: {err}")
    assert result.metrics is not None  # fit() ran to config.iters
    print(format_metrics(result.metrics))
    if args.out is not None:
        metrics = {k: v for k, v in result.metrics.items() if k != "confusion_matrix"}
        summary = {
            "config": config.to_dict(),
            "metrics": metrics,
            "confusion_matrix": result.metrics["confusion_matrix"].tolist(),
            "history": {"losses": result.losses, "lrs": result.lrs, "evals": result.evals},
        }
        (args.out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(f"wrote {len(result.checkpoints)} checkpoint(s) and metrics.json to {args.out}")
    return 0
