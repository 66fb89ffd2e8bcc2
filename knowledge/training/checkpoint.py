r"""Checkpoints: atomic saving, loading weights for fine-tuning, and exact resume.

A checkpoint written by [`save_checkpoint`][knowledge.training.save_checkpoint] is a dict of
tensors and plain values:

* ``state_dict``: the model weights and buffers (BN running statistics included);
* ``optimizer`` and ``scheduler``: their ``state_dict()`` (momentum buffers, Adam moments,
  the scheduler's step count), when given;
* ``iteration`` and ``epoch``: the loop counters; ``sampler``: the sampler position;
* ``rng``: the torch (and CUDA), Python ``random`` and NumPy generator states, converted to
  tensors and plain numbers;
* ``meta``: user metadata plus the torch version.

Two ways to read it back. [`load_weights`][knowledge.training.load_weights] (mm's
``load_from``) copies the weights only, to start a **new** training run (fine-tuning).
[`resume`][knowledge.training.resume] restores everything, to **continue** the interrupted run
as if it had never stopped. Both read with
``torch.load(weights_only=True)``: a pickle can run arbitrary code when unpickled, and the
restricted unpickler accepts only tensors and plain containers.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "CheckpointError",
    "LoadResult",
    "ResumeState",
    "load_weights",
    "resume",
    "save_checkpoint",
]

FORMAT = "knowledge.checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, or that does not fit what it is loaded into."""


@dataclass(frozen=True)
class LoadResult:
    """What [`load_weights`][knowledge.training.load_weights] could not load.

    Attributes:
        missing_keys: model entries absent from the checkpoint (left as initialised).
        unexpected_keys: checkpoint entries the model does not have (ignored).
        mismatched_keys: entries present in both with different shapes (left as initialised).
    """

    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    mismatched_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ResumeState:
    """Where [`resume`][knowledge.training.resume] says training continues.

    Attributes:
        iteration: iterations already done; the next one has this index.
        epoch: the loop's epoch counter when the file was saved. A checkpoint written after
            the last iteration of epoch $e$ but before its ``after_train_epoch`` hooks holds
            ``epoch=e``; the loop then closes that epoch first.
        meta: the metadata saved with the checkpoint.
    """

    iteration: int
    epoch: int
    meta: dict[str, Any]


# ----------------------------------------------------------------------------------------
# RNG states as tensors and plain values (weights_only=True rejects numpy's state object)
# ----------------------------------------------------------------------------------------


def _rng_state() -> dict[str, Any]:
    version, mt_state, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": {
            "version": version,
            "state": torch.tensor(mt_state, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np
    except ImportError:  # numpy is optional
        return state
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state["numpy"] = {
        "name": str(name),
        "keys": torch.from_numpy(keys.astype(np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())  # map_location may have moved it
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss_next"]))
    if "numpy" in state:
        import numpy as np

        st = state["numpy"]
        keys = st["keys"].cpu().numpy().astype(np.uint32)
        np.random.set_state((st["name"], keys, st["pos"], st["has_gauss"], st["cached_gaussian"]))


# ----------------------------------------------------------------------------------------
# Saving
# ----------------------------------------------------------------------------------------


def _unwrap(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel / DataParallel, so keys lack ``module.``."""
    if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        return model.module
    return model


def _check_plain(value: Any, where: str) -> None:
    """Refuses values that ``torch.load(weights_only=True)`` would refuse to read back."""
    # Exact types: a str subclass such as torch.__version__ (TorchVersion) is rejected on load.
    if value is None or type(value) in (bool, int, float, str) or isinstance(value, Tensor):
        return
    if type(value) in (list, tuple):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
        return
    if type(value) in (dict, OrderedDict):
        for k, v in value.items():
            if type(k) not in (str, int):
                raise TypeError(f"{where} has a key {k!r} of type {type(k).__name__}")
            _check_plain(v, f"{where}[{k!r}]")
        return
    raise TypeError(
        f"{where} is a {type(value).__name__}; a checkpoint holds only tensors, numbers, "
        "strings, None and lists/tuples/dicts of them (weights_only=True could not load it)"
    )


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(
    path: str | Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    iteration: int = 0,
    epoch: int = 0,
    sampler_state: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    r"""Saves everything needed to resume training, atomically.

    The data go to a temporary file in the same folder, which is flushed and ``fsync``-ed
    and then renamed over ``path`` with ``os.replace`` (an atomic rename on POSIX and
    Windows); finally the folder itself is ``fsync``-ed so the rename survives a power
    cut. A crash or ``SIGKILL`` at any moment leaves either the old file or the new one at
    ``path``, never a half-written one (at worst a stray temporary file).

    Args:
        path: destination file, conventionally ``*.pth``; its folder is created if missing.
        model: the network; a DDP/DataParallel wrapper is unwrapped, so keys have no
            ``module.`` prefix.
        optimizer: its optimizer, or ``None`` for a weights-only file.
        scheduler: the learning-rate scheduler, or ``None``.
        iteration: iterations completed.
        epoch: epochs completed.
        sampler_state: the data sampler's position, e.g. ``ResumableSampler.state_dict()``.
        meta: extra plain values (config, metrics); ``torch_version`` is added.

    Returns:
        The path written.

    Raises:
        TypeError: if ``meta`` or ``sampler_state`` holds values that
            ``torch.load(weights_only=True)`` could not read back.

    Examples:
        >>> import tempfile, pathlib
        >>> net = nn.Linear(2, 1)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     out = save_checkpoint(pathlib.Path(tmp) / "w.pth", model=net, iteration=7)
        ...     sorted(torch.load(out, weights_only=True))
        ['epoch', 'format', 'iteration', 'meta', 'rng', 'sampler', 'state_dict']
    """
    path = Path(path)
    for name, value in (("iteration", iteration), ("epoch", epoch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    meta = {**(meta or {}), "torch_version": str(torch.__version__)}
    _check_plain(meta, "meta")
    _check_plain(sampler_state, "sampler_state")
    checkpoint: dict[str, Any] = {
        "format": FORMAT,
        "state_dict": _unwrap(model).state_dict(),
        "iteration": iteration,
        "epoch": epoch,
        "sampler": sampler_state,
        "rng": _rng_state(),
        "meta": meta,
    }
    if optimizer is not None:
        checkpoint["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        checkpoint["scheduler"] = scheduler.state_dict()

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


# ----------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------


def _first_line(err: BaseException) -> str:
    """``Type: first sentence`` of an exception, without torch's multi-line advice."""
    lines = str(err).strip().splitlines()
    if not lines:
        return type(err).__name__
    return f"{type(err).__name__}: {lines[0].split('. ')[0].rstrip('.')}"


def _read(path: str | Path, map_location: Any) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` with errors that name the file and the cause."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist or is not a file")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if found is None:  # not a refused object: the bytes themselves make no sense
            cause = re.search(r"WeightsUnpickler error:\s*([^\n]+)", str(err))
            detail = cause.group(1).strip() if cause else _first_line(err)
            raise CheckpointError(
                f"checkpoint {path} is corrupt or not a torch checkpoint (UnpicklingError: "
                f"{detail})"
            ) from err
        raise CheckpointError(
            f"checkpoint {path} contains a pickled Python object ({found.group(1)}) and "
            "torch.load(weights_only=True) refused to unpickle it: unpickling can run "
            "arbitrary code. Only if you trust its author, load it yourself with "
            "weights_only=False and save the plain state_dict again"
        ) from err
    except PermissionError:
        raise
    except (RuntimeError, OSError, EOFError, KeyError, ValueError, IndexError) as err:
        size = path.stat().st_size
        raise CheckpointError(
            f"checkpoint {path} ({size} bytes) is truncated or corrupt and cannot be read "
            f"({_first_line(err)}). An interrupted save or copy leaves such files: copy it "
            "again, or fall back to an earlier checkpoint"
        ) from err
    if not isinstance(data, dict):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(data).__name__}, expected a dict of tensors"
        )
    return data


def _model_state(data: dict[str, Any], path: Path) -> dict[str, Tensor]:
    """The weights inside a checkpoint: under ``state_dict`` or ``model``, or the dict itself."""
    for key in ("state_dict", "model"):
        if isinstance(data.get(key), dict):
            state = data[key]
            break
    else:
        state = data
    tensors = {k: v for k, v in state.items() if isinstance(v, Tensor)}
    if not tensors:
        raise CheckpointError(
            f"checkpoint {path} has no tensors under 'state_dict', 'model' or at the top level "
            f"(top-level keys: {sorted(map(str, data))[:10]})"
        )
    if all(k.startswith("module.") for k in tensors):  # saved from a DDP-wrapped model
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    return tensors


def _match(model: nn.Module, state: dict[str, Tensor]) -> tuple[LoadResult, dict[str, Tensor]]:
    own = model.state_dict()
    mismatched = [k for k in own if k in state and state[k].shape != own[k].shape]
    result = LoadResult(
        missing_keys=[k for k in own if k not in state],
        unexpected_keys=[k for k in state if k not in own],
        mismatched_keys=mismatched,
    )
    usable = {k: v for k, v in state.items() if k in own and k not in set(mismatched)}
    return result, usable


def _describe(result: LoadResult, model: nn.Module, state: dict[str, Tensor]) -> str:
    own = model.state_dict()
    parts = []
    if result.missing_keys:
        parts.append(f"missing keys {result.missing_keys}")
    if result.unexpected_keys:
        parts.append(f"unexpected keys {result.unexpected_keys}")
    for k in result.mismatched_keys:
        parts.append(
            f"shape of {k}: checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)}"
        )
    return "; ".join(parts)


def load_weights(
    path: str | Path, model: nn.Module, *, strict: bool = True, map_location: Any = "cpu"
) -> LoadResult:
    r"""Loads only the model weights (mm's ``load_from``), to start a new training run.

    Accepts this module's checkpoints (weights under ``state_dict``), files with the
    weights under ``model`` (torchvision's reference scripts) and bare state dicts. When
    every key starts with ``module.`` (saved from a DDP-wrapped model) the prefix is
    dropped. The optimizer, scheduler, counters and RNG states in the file are ignored.

    Args:
        path: checkpoint file.
        model: the network to fill (a DDP/DataParallel wrapper is unwrapped).
        strict: raise unless the keys and shapes match exactly. With ``False``, load the
            entries that match and report the rest, e.g. a segmentation head with another
            number of classes.
        map_location: passed to ``torch.load``.

    Returns:
        A [`LoadResult`][knowledge.training.LoadResult] with the missing, unexpected and
        shape-mismatched keys.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        CheckpointError: if the file is unreadable (the message names it), holds no
            weights, or, with ``strict=True``, does not match the model (the message lists
            every missing, unexpected and mismatched key).

    Examples:
        >>> import tempfile, pathlib
        >>> src = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 150))  # trained on 150 classes
        >>> dst = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 19))  # fine-tune on 19
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     ckpt = save_checkpoint(pathlib.Path(tmp) / "ade.pth", model=src)
        ...     result = load_weights(ckpt, dst, strict=False)
        >>> result.mismatched_keys, torch.equal(dst[0].weight, src[0].weight)
        (['1.weight', '1.bias'], True)
    """
    path = Path(path)
    model = _unwrap(model)
    state = _model_state(_read(path, map_location), path)
    result, usable = _match(model, state)
    if strict and (result.missing_keys or result.unexpected_keys or result.mismatched_keys):
        raise CheckpointError(
            f"checkpoint {path} does not match {type(model).__name__}: "
            f"{_describe(result, model, state)}. Pass strict=False to load the matching "
            "entries and get this report back"
        )
    model.load_state_dict(usable, strict=False)
    return result


def resume(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    *,
    sampler: Any = None,
    map_location: Any = "cpu",
) -> ResumeState:
    r"""Restores a run saved by ``save_checkpoint``, to continue exactly where it stopped.

    Restores, in place: the model (strictly), the optimizer, the scheduler, the sampler
    position, and the torch, CUDA, Python and NumPy RNG states. Continuing with the same
    data order and thread count then gives bitwise the same weights as a run that was
    never interrupted. Everything the file holds must have a target and the other way
    round, so that nothing is silently left at its fresh state.

    Args:
        path: checkpoint file from [`save_checkpoint`][knowledge.training.save_checkpoint].
        model: the network, built as for the original run.
        optimizer: its optimizer, freshly built; the state is loaded into it.
        scheduler: its LR scheduler, freshly built on ``optimizer``.
        sampler: the data sampler (with ``load_state_dict``), e.g. a ``ResumableSampler``.
        map_location: passed to ``torch.load``.

    Returns:
        A [`ResumeState`][knowledge.training.ResumeState] with the iteration and epoch to
        continue from.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        CheckpointError: if the file is unreadable, was not written by
            [`save_checkpoint`][knowledge.training.save_checkpoint], lacks a state that was
            asked for, or the model does not match it.
        ValueError: if the file holds an optimizer, scheduler or sampler state but the
            corresponding argument is ``None``.

    Examples:
        >>> import tempfile, pathlib
        >>> net = nn.Linear(2, 1)
        >>> opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     ckpt = save_checkpoint(
        ...         pathlib.Path(tmp) / "it.pth", model=net, optimizer=opt, iteration=500, epoch=3
        ...     )
        ...     fresh = nn.Linear(2, 1)
        ...     state = resume(ckpt, fresh, torch.optim.SGD(fresh.parameters(), lr=0.1))
        >>> state.iteration, state.epoch, torch.equal(fresh.weight, net.weight)
        (500, 3, True)
    """
    path = Path(path)
    data = _read(path, map_location)
    if data.get("format") != FORMAT:
        raise CheckpointError(
            f"checkpoint {path} was not written by save_checkpoint (format "
            f"{data.get('format')!r}); for weights only, use load_weights"
        )
    targets = {"optimizer": optimizer, "scheduler": scheduler, "sampler": sampler}
    for key, target in targets.items():
        stored = data.get(key)
        if target is not None and stored is None:
            raise CheckpointError(
                f"checkpoint {path} has no {key} state to resume from; it was saved without "
                f"one (a weights-only file?). Pass {key}=None to start it fresh"
            )
        if target is None and stored is not None:
            raise ValueError(
                f"checkpoint {path} holds a {key} state but {key}=None; pass the {key} to "
                "restore it (or use load_weights to take the weights only)"
            )
    model = _unwrap(model)
    state = _model_state(data, path)
    result, _ = _match(model, state)
    if result.missing_keys or result.unexpected_keys or result.mismatched_keys:
        raise CheckpointError(
            f"checkpoint {path} does not match {type(model).__name__}: "
            f"{_describe(result, model, state)}"
        )
    model.load_state_dict(state)
    if optimizer is not None:
        optimizer.load_state_dict(data["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(data["scheduler"])
    if sampler is not None:
        sampler.load_state_dict(data["sampler"])
    _set_rng_state(data["rng"])
    return ResumeState(iteration=data["iteration"], epoch=data["epoch"], meta=data["meta"])
