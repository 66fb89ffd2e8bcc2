r"""Vanishing gradients: deep MLPs in four variants and per-layer gradient norms from hooks.

Backpropagation multiplies one Jacobian per layer. For a stack of $L$ layers
$h_l = \phi(W_l h_{l-1} + b_l)$ the gradient that reaches the first layer is

$$
\frac{\partial \mathcal{L}}{\partial h_1}
= \Big(\prod_{l=2}^{L} W_l^\top \operatorname{diag}\big(\phi'(z_l)\big)\Big)
\frac{\partial \mathcal{L}}{\partial h_L},
$$

where $z_l = W_l h_{l-1} + b_l$. For the sigmoid, $\sigma'(z) = \sigma(z)(1 - \sigma(z)) \le 1/4$,
so each factor tends to shrink the gradient and the product shrinks geometrically with depth.
The variants built by [make_deep_mlp][knowledge.training.make_deep_mlp] each change one thing
in that product: the activation and its initialisation (``"relu"``), a re-normalisation of every
pre-activation (``"bn"``), or an identity path around every layer (``"residual"``, whose
Jacobian is $I + \partial F / \partial h$).

[GradNormRecorder][knowledge.training.GradNormRecorder] measures the result with PyTorch hooks
during any backward pass, and [layer_grad_norms][knowledge.training.layer_grad_norms] wraps one
measurement on one batch.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

__all__ = [
    "DEEP_MLP_VARIANTS",
    "GradNormRecorder",
    "layer_grad_norms",
    "make_deep_mlp",
]

DEEP_MLP_VARIANTS: tuple[str, ...] = ("sigmoid", "relu", "bn", "residual")
"""The variants that [make_deep_mlp][knowledge.training.make_deep_mlp] accepts."""

_KINDS = ("weight", "output")


def _check_positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


class _Block(nn.Module):
    """One hidden layer: ``act(norm(linear(x)))``, or ``shortcut(x) + linear(act(x))``."""

    def __init__(self, in_features: int, out_features: int, *, variant: str) -> None:
        super().__init__()
        # before BN a bias is redundant: the batch mean subtraction cancels it
        self.linear = nn.Linear(in_features, out_features, bias=variant != "bn")
        if variant == "relu":
            # He et al. 2015: Var(w) = 2 / fan_in keeps E[h^2] constant through ReLU layers
            nn.init.kaiming_normal_(self.linear.weight, nonlinearity="relu")
        else:
            # Glorot & Bengio 2010: Var(w) = 2 / (fan_in + fan_out)
            nn.init.xavier_normal_(self.linear.weight)
        if self.linear.bias is not None:
            nn.init.zeros_(self.linear.bias)
        self.norm = nn.BatchNorm1d(out_features) if variant == "bn" else nn.Identity()
        self.act = nn.ReLU() if variant == "relu" else nn.Sigmoid()
        self.shortcut: nn.Module | None = None
        if variant == "residual":
            if in_features == out_features:
                self.shortcut = nn.Identity()
            else:  # a projection shortcut where the width changes, as in ResNet
                self.shortcut = nn.Linear(in_features, out_features, bias=False)
                nn.init.xavier_normal_(self.shortcut.weight)

    def forward(self, x: Tensor) -> Tensor:
        """Maps (B, in_features) to (B, out_features)."""
        if self.shortcut is None:
            return self.act(self.norm(self.linear(x)))
        # pre-activation residual block: x + F(x) with F(x) = linear(act(x)), so that the
        # identity path stays free of sigmoids and d(x + F(x))/dx = I + dF/dx
        return self.shortcut(x) + self.linear(self.act(x))


def make_deep_mlp(
    variant: str,
    *,
    depth: int = 20,
    width: int = 64,
    in_features: int = 32,
    out_features: int = 10,
) -> nn.Sequential:
    r"""Builds a deep fully connected network in one of four variants.

    The network is ``depth`` hidden layers named ``layer1`` (input side) to
    ``layer{depth}``, followed by a linear ``head``. Hidden layer $l$ computes

    - ``"sigmoid"``: $h_l = \sigma(W_l h_{l-1} + b_l)$ with Glorot (Xavier) normal init;
    - ``"relu"``: $h_l = \max(0, W_l h_{l-1} + b_l)$ with He (Kaiming) normal init;
    - ``"bn"``: $h_l = \sigma(\mathrm{BN}(W_l h_{l-1}))$, Xavier init, no bias before BN;
    - ``"residual"``: $h_l = h_{l-1} + W_l\,\sigma(h_{l-1}) + b_l$, Xavier init: a
      pre-activation residual block (He et al. 2016, "Identity Mappings"), so the identity path
      carries no sigmoid. ``layer1`` uses a linear projection shortcut $P x$ instead of $x$
      when ``in_features != width``.

    ``"bn"`` and ``"residual"`` keep the sigmoid, so each differs from ``"sigmoid"`` in one
    respect only. Biases start at zero; BN starts at $\gamma = 1, \beta = 0$. Call
    ``torch.manual_seed`` first for a reproducible net.

    Args:
        variant: one of ``"sigmoid"``, ``"relu"``, ``"bn"``, ``"residual"``.
        depth: number of hidden layers, at least 1.
        width: features of every hidden layer.
        in_features: features of the input x, shape (B, in_features).
        out_features: outputs of the head, e.g. the number of classes.

    Returns:
        An ``nn.Sequential`` with children ``layer1`` … ``layer{depth}`` and ``head``.

    Raises:
        ValueError: if ``variant`` is unknown or a size is smaller than 1.
        TypeError: if a size is not an int.

    Examples:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> net = make_deep_mlp("residual", depth=3, width=8, in_features=4, out_features=2)
        >>> [name for name, _ in net.named_children()]
        ['layer1', 'layer2', 'layer3', 'head']
        >>> net(torch.randn(5, 4)).shape
        torch.Size([5, 2])
        >>> make_deep_mlp("tanh")
        Traceback (most recent call last):
            ...
        ValueError: variant must be one of 'sigmoid', 'relu', 'bn', 'residual', got 'tanh'
    """
    if variant not in DEEP_MLP_VARIANTS:
        allowed = ", ".join(repr(v) for v in DEEP_MLP_VARIANTS)
        raise ValueError(f"variant must be one of {allowed}, got {variant!r}")
    for name, value in (
        ("depth", depth),
        ("width", width),
        ("in_features", in_features),
        ("out_features", out_features),
    ):
        _check_positive_int(name, value)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i in range(depth):
        layers[f"layer{i + 1}"] = _Block(in_features if i == 0 else width, width, variant=variant)
    head = nn.Linear(width, out_features)
    nn.init.xavier_normal_(head.weight)
    nn.init.zeros_(head.bias)
    layers["head"] = head
    return nn.Sequential(layers)


def _resolve_layers(model: nn.Module, layers: Sequence[str] | None, of: str) -> list[str]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if of not in _KINDS:
        raise ValueError(f"of must be 'weight' or 'output', got {of!r}")
    if layers is None:
        names = [
            n for n, m in model.named_children() if any(p.requires_grad for p in m.parameters())
        ]
        if not names:
            raise ValueError(
                f"{type(model).__name__} has no child module with trainable parameters; "
                "pass layers="
            )
        return names
    if isinstance(layers, str):
        raise TypeError(f"layers must be a sequence of module names, got the string {layers!r}")
    known = dict(model.named_modules())
    names = list(layers)
    if not names:
        raise ValueError("layers must name at least one submodule, got an empty sequence")
    for name in names:
        if name not in known or name == "":
            raise ValueError(f"layers names {name!r}, which is not a submodule of the model")
        if of == "weight" and not any(p.requires_grad for p in known[name].parameters()):
            raise ValueError(f"layer {name!r} has no trainable parameters to measure")
    if len(set(names)) != len(names):
        raise ValueError(f"layers contains duplicate names: {names}")
    return names


class GradNormRecorder:
    r"""Records per-layer gradient norms with hooks during backward passes.

    Used as a context manager: hooks are registered on entry and all of them are removed on
    exit, also when the block raises. After each ``backward()`` inside the block,
    ``norms`` holds one ``(layer name, norm)`` pair per layer, in the order of ``layers``.
    A hook sees the gradient of one backward pass, not the ``.grad`` accumulated over several.

    - ``of="weight"``: for each layer, the Euclidean norm of the gradient of the loss with
      respect to all of its trainable parameters taken together,
      $\lVert \partial \mathcal{L} / \partial \theta_l \rVert_2$, the quantity that sets the
      size of an SGD step. Collected with ``Tensor.register_hook`` on every parameter.
    - ``of="output"``: the norm of the gradient with respect to the layer's output activation,
      $\lVert \partial \mathcal{L} / \partial h_l \rVert_2$ over the whole batch. Collected
      with a forward hook that puts a ``register_hook`` on the output tensor. (A
      ``register_full_backward_hook`` would give the same ``grad_output``, but it warns on
      the first layer, whose input does not require grad, and rejects in-place activations.)
      For a layer called several times in one forward pass only one call is kept.

    Args:
        model: the network.
        layers: names of submodules (as in ``model.named_modules()``), input side first.
            Defaults to every direct child that has parameters.
        of: ``"weight"`` or ``"output"``.

    Raises:
        ValueError: for an unknown ``of``, an unknown or duplicate layer name, or (``of="weight"``)
            a layer without trainable parameters.
        TypeError: if ``model`` is not an ``nn.Module`` or ``layers`` is a single string.

    Examples:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> _ = torch.manual_seed(0)
        >>> net = make_deep_mlp("sigmoid", depth=4, width=16, in_features=8, out_features=3)
        >>> x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
        >>> with GradNormRecorder(net) as rec:
        ...     F.cross_entropy(net(x), y).backward()
        >>> [name for name, _ in rec.norms]
        ['layer1', 'layer2', 'layer3', 'layer4', 'head']
        >>> norms = [n for _, n in rec.norms]
        >>> norms[0] < norms[1] < norms[2] < norms[3]  # smaller towards the input
        True
        >>> any(m._backward_hooks for m in net.modules())  # hooks are gone after the block
        False
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        layers: Sequence[str] | None = None,
        of: Literal["weight", "output"] = "weight",
    ) -> None:
        self.layers = _resolve_layers(model, layers, of)
        self.of = of
        self._model = model
        self._handles: list[RemovableHandle] = []
        # layer -> {parameter index: squared norm}; kept as tensors so that a hook never forces
        # a device sync (float() on a CUDA tensor would stall every backward pass)
        self._sq: dict[str, dict[int, Tensor]] = {}

    @property
    def norms(self) -> list[tuple[str, float]]:
        """``(layer name, gradient norm)`` from the latest backward pass, input side first.

        Raises:
            RuntimeError: if a layer has not received a gradient since the recorder started.
        """
        missing = [name for name in self.layers if name not in self._sq]
        if missing:
            raise RuntimeError(
                f"no gradient has reached layers {missing} yet; call backward() inside the block"
            )
        return [
            (name, math.sqrt(sum(float(sq) for sq in self._sq[name].values())))
            for name in self.layers
        ]

    def __enter__(self) -> GradNormRecorder:
        if self._handles:
            raise RuntimeError("this GradNormRecorder is already active")
        self._sq.clear()
        modules = dict(self._model.named_modules())
        try:
            for name in self.layers:
                module = modules[name]
                if self.of == "weight":
                    params = [p for p in module.parameters() if p.requires_grad]
                    for idx, p in enumerate(params):
                        self._handles.append(p.register_hook(self._param_hook(name, idx)))
                else:
                    self._handles.append(module.register_forward_hook(self._out_hook(name)))
        except BaseException:
            self._remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._remove()

    def _remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _store(self, name: str, idx: int, grad: Tensor | None) -> None:
        if self._handles and grad is not None:  # inactive recorders ignore stray graphs
            sq = torch.linalg.vector_norm(grad.detach(), dtype=torch.float64).square()
            self._sq.setdefault(name, {})[idx] = sq

    def _param_hook(self, name: str, idx: int) -> Callable[[Tensor], None]:
        def hook(grad: Tensor) -> None:
            self._store(name, idx, grad)

        return hook

    def _out_hook(self, name: str) -> Callable[..., None]:
        def forward_hook(module: nn.Module, args: Any, output: Any) -> None:
            if not isinstance(output, Tensor):
                raise TypeError(
                    f"layer {name!r} returned {type(output).__name__}; of='output' needs a tensor"
                )
            if output.requires_grad:  # the tensor hook lives as long as this graph does
                output.register_hook(lambda grad: self._store(name, 0, grad))

        return forward_hook


def layer_grad_norms(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
    layers: Sequence[str] | None = None,
    of: Literal["weight", "output"] = "weight",
) -> list[tuple[str, float]]:
    r"""Gradient norm per layer for one batch, collected with hooks.

    Runs ``loss_fn(model(x), y)`` and one backward pass inside a
    [GradNormRecorder][knowledge.training.GradNormRecorder]. The gradients are computed with
    ``torch.autograd.grad``, so ``param.grad`` is left untouched; the hooks are removed
    afterwards, also when the forward pass or the loss raises. The model is used in its
    current mode: in training mode BatchNorm normalises with batch statistics (and updates its
    running statistics), which is what a training step sees.

    Args:
        model: the network.
        x: input batch, e.g. shape (B, in_features).
        y: targets for ``loss_fn``, e.g. class indices of shape (B,).
        loss_fn: maps (output, y) to a scalar loss. Default: ``F.cross_entropy``.
        layers: submodule names, input side first; defaults to every direct child with
            parameters.
        of: ``"weight"`` (parameter gradients) or ``"output"`` (gradients of the layer outputs).

    Returns:
        A list of ``(layer name, norm)`` pairs, input side first.

    Raises:
        ValueError: for bad ``layers``/``of``, a non-scalar loss, or a layer that the loss does
            not depend on.
        TypeError: if ``model`` is not an ``nn.Module`` or ``layers`` is a single string.

    Examples:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> x, y = torch.randn(64, 32), torch.randint(0, 10, (64,))
        >>> for variant in ("sigmoid", "residual"):
        ...     _ = torch.manual_seed(0)
        ...     norms = layer_grad_norms(make_deep_mlp(variant, depth=10), x, y)
        ...     first, last = norms[0][1], norms[-2][1]  # layer1 and layer10
        ...     print(f"{variant}: first / last = {first / last:.1e}")
        sigmoid: first / last = 1.8e-06
        residual: first / last = 8.9e-01
    """
    recorder = GradNormRecorder(model, layers=layers, of=of)
    modules = dict(model.named_modules())
    with recorder:
        loss = loss_fn(model(x), y)
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
            raise ValueError(f"loss_fn must return a scalar tensor, got {shape}")
        if of == "weight":
            inputs = [
                p for n in recorder.layers for p in modules[n].parameters() if p.requires_grad
            ]
        else:
            inputs = [p for p in model.parameters() if p.requires_grad]
        if not loss.requires_grad:
            raise ValueError("the loss does not require grad: are all parameters frozen?")
        torch.autograd.grad(loss, inputs, allow_unused=True)
        missing = [n for n in recorder.layers if n not in recorder._sq]
        if missing:
            raise ValueError(
                f"the loss does not depend on layers {missing}; no gradient reached them"
            )
        return recorder.norms
