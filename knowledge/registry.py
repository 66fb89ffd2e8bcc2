r"""Registries that build objects from config dicts, with arguments checked by ``inspect``.

A [`Registry`][knowledge.registry.Registry] maps names to classes and functions. Modules
register themselves with a decorator when they are imported, and a config dict such as
``dict(type="PPM", in_channels=2048, channels=512)`` is then built with
``MODELS.build(cfg)``: the ``type`` names the entry, the other keys are its keyword
arguments. This mirrors ``mmengine.Registry`` (``register_module``, ``build_from_cfg``,
``locations``), with three deliberate differences:

* The arguments are checked against ``inspect.signature`` of the target **before** the
  call, and a wrong config raises a ``TypeError`` that lists the unknown and the missing
  parameters next to the accepted ones.
* A string in a config is only ever a registered name: it is never evaluated, and never
  imported as a dotted path (mmengine imports ``"package.module.Class"`` strings).
* Nested configs are built recursively (see [`Registry.build`][knowledge.registry.Registry.build]).

Two registries are project-wide: [`MODELS`][knowledge.registry.MODELS] for the modules of
``knowledge.blocks`` and ``knowledge.models``, imported lazily on the first lookup that misses,
and [`NORM_LAYERS`][knowledge.registry.NORM_LAYERS] for normalization layers, built with
[`build_norm_layer`][knowledge.registry.build_norm_layer].
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any, TypeVar

from torch import nn

__all__ = [
    "MODELS",
    "NORM_LAYERS",
    "Registry",
    "RegistryError",
    "build_norm_layer",
    "norm_factory",
]

T = TypeVar("T")

_BY_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class RegistryError(KeyError):
    """A name that is not registered, or registered twice.

    A ``KeyError`` (as in mmengine) whose message prints as plain text rather than as the
    quoted ``repr`` that ``KeyError`` uses.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _describe(obj: Any) -> str:
    """``module.QualName`` of a class or function: stable, unlike its repr."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in names)


class Registry:
    r"""A mapping from names to classes and functions that builds them from config dicts.

    Entries are added with [`register`][knowledge.registry.Registry.register], usually as a
    decorator that runs when the defining module is imported. Since a registry must not
    import the modules that register into it (they import the registry: a cycle), it is
    given ``locations``, fixed module names declared in code, and imports them the first
    time a lookup misses, as mmengine does.

    Args:
        name: the registry's name, used in messages.
        locations: modules to import (once, on the first lookup that misses) so that their
            decorators run. A location that does not exist is skipped; any other import
            error propagates.
        raw_keys: config keys whose values are passed through unbuilt even when they are
            dicts with a ``type`` key (such as ``norm_layer``, which the receiving module
            builds itself once it knows the channel count). Keys ending in ``_cfg`` are
            always passed through, as in mmseg's ``norm_cfg``.

    Examples:
        >>> TOYS = Registry("toys")
        >>> @TOYS.register()
        ... class Wheel:
        ...     def __init__(self, radius: float, *, spokes: int = 32) -> None:
        ...         self.radius, self.spokes = radius, spokes
        >>> wheel = TOYS.build(dict(type="Wheel", radius=0.3))
        >>> wheel.radius, wheel.spokes
        (0.3, 32)
        >>> TOYS.names()
        ['Wheel']
    """

    def __init__(
        self,
        name: str,
        *,
        locations: Iterable[str] = (),
        raw_keys: Iterable[str] = (),
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str, got {name!r}")
        self.name = name
        self.locations = tuple(locations)
        for loc in self.locations:
            if not isinstance(loc, str) or not loc:
                raise TypeError(f"locations must be module names (str), got {loc!r}")
        self.raw_keys = frozenset(raw_keys)
        self._entries: dict[str, Callable[..., Any]] = {}
        self._lazy: dict[str, tuple[str, str]] = {}
        self._imported = False
        self._missing_locations: list[str] = []

    def __repr__(self) -> str:
        return (
            f"Registry(name={self.name!r}, locations={self.locations!r}, "
            f"registered={sorted(self._entries)})"
        )

    # ------------------------------------------------------------------ registration

    def register(
        self,
        name: str | Callable[..., Any] | None = None,
        *,
        force: bool = False,
        obj: T | None = None,
    ) -> Any:
        r"""Registers a class or a function, as a decorator or as a plain call.

        ``@REG.register()`` registers under ``obj.__name__``, ``@REG.register(name="X")``
        under another name, and ``REG.register(obj=cls)`` is the call form (mmengine's
        ``register_module(module=cls)``). ``@REG.register`` without parentheses works too.

        Registering the same definition again (same module and qualified name, as when a
        module is re-imported) replaces the entry silently; a different object under a
        taken name is an error unless ``force=True``.

        Args:
            name: the name to register under; defaults to ``obj.__name__``.
            force: replace an existing entry of that name.
            obj: the class or function, for the call form.

        Returns:
            ``obj`` itself in the call form, otherwise a decorator that registers its
            argument and returns it unchanged.

        Raises:
            TypeError: if the object is neither a class (``inspect.isclass``) nor a function
                (``inspect.isfunction``): instances, ``functools.partial`` objects and
                builtins are rejected; if ``name`` is not a str or ``force`` not a bool.
            RegistryError: if the name is taken and ``force`` is False.

        Examples:
            >>> REG = Registry("demo")
            >>> @REG.register(name="double")
            ... def times_two(x: int) -> int:
            ...     return 2 * x
            >>> REG.build(dict(type="double", x=21))
            42
            >>> REG.register(obj=len)
            Traceback (most recent call last):
            ...
            TypeError: demo registry: only classes (inspect.isclass) and functions (inspect.isfunction) can be registered, got builtin_function_or_method len
        """  # noqa: E501
        if obj is None and (inspect.isclass(name) or inspect.isfunction(name)):
            obj, name = name, None  # bare @REG.register, or REG.register(cls)
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"name must be a non-empty str or None, got {name!r}")
        if not isinstance(force, bool):
            raise TypeError(f"force must be a bool, got {force!r}")
        if obj is not None:
            self._add(obj, name, force)
            return obj

        def decorator(target: T) -> T:
            self._add(target, name, force)
            return target

        return decorator

    def _add(self, obj: Any, name: str | None, force: bool) -> None:
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            name_of = getattr(obj, "__name__", None)
            got = (
                f"{type(obj).__name__} {name_of}"
                if name_of
                else f"an instance of {type(obj).__name__}"
            )
            raise TypeError(
                f"{self.name} registry: only classes (inspect.isclass) and functions "
                f"(inspect.isfunction) can be registered, got {got}"
            )
        key = obj.__name__ if name is None else name
        old = self._entries.get(key)
        if old is not None and old is not obj and not force and _describe(old) != _describe(obj):
            raise RegistryError(
                f"{key!r} is already registered in the {self.name} registry as "
                f"{_describe(old)}; cannot register {_describe(obj)} under the same name "
                f"(pass force=True to replace it, or choose another name)"
            )
        if key in self._lazy and not force:
            raise RegistryError(
                f"{key!r} is already registered in the {self.name} registry as "
                f"{'.'.join(self._lazy[key])} (imported on first use); pass force=True "
                f"to replace it"
            )
        self._lazy.pop(key, None)
        self._entries[key] = obj

    def _register_lazy(self, name: str, module: str, attr: str) -> None:
        """Registers ``module.attr`` without importing it: the import runs on first lookup.

        Both strings are fixed in code (like ``locations``), never taken from a config.
        """
        if name in self._entries or name in self._lazy:
            raise RegistryError(f"{name!r} is already registered in the {self.name} registry")
        self._lazy[name] = (module, attr)

    # ------------------------------------------------------------------ lookup

    def _import_locations(self) -> None:
        """Imports each location once; skips one only if that very module does not exist."""
        if self._imported:
            return
        self._imported = True  # set first: a location may look names up while importing
        self._missing_locations = []
        try:
            for loc in self.locations:
                try:
                    importlib.import_module(loc)
                except ModuleNotFoundError as err:
                    # Skip "knowledge.models does not exist", not "it imports a missing dep".
                    if err.name is None or not (loc == err.name or loc.startswith(err.name + ".")):
                        raise
                    self._missing_locations.append(loc)
        except BaseException:
            self._imported = False
            raise

    def get(self, name: str) -> Callable[..., Any]:
        """Returns the class or function registered under ``name``.

        A miss imports the registry's ``locations`` (once) and looks again.

        Args:
            name: a registered name. It is compared as a plain string: never evaluated,
                never imported.

        Returns:
            The registered class or function.

        Raises:
            TypeError: if ``name`` is not a str.
            RegistryError: if nothing is registered under ``name``; the message lists
                close matches (``difflib``) and all available names.

        Examples:
            >>> from knowledge.registry import MODELS
            >>> MODELS.get("PPM").__name__
            'PPM'
            >>> MODELS.get("PMM")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            knowledge.registry.RegistryError: 'PMM' is not registered in the models registry. Did you mean 'PPM'...
        """  # noqa: E501
        if not isinstance(name, str):
            raise TypeError(f"a registry name must be a str, got {type(name).__name__}")
        found = self._lookup(name)
        if found is None:
            self._import_locations()
            found = self._lookup(name)
        if found is None:
            raise RegistryError(self._not_found_message(name))
        return found

    def _lookup(self, name: str) -> Callable[..., Any] | None:
        if name in self._entries:
            return self._entries[name]
        if name in self._lazy:
            module, attr = self._lazy[name]
            obj = getattr(importlib.import_module(module), attr)
            del self._lazy[name]
            self._add(obj, name, force=False)
            return obj
        return None

    def _not_found_message(self, name: str) -> str:
        available = self.names()
        close = difflib.get_close_matches(name, available, n=3, cutoff=0.6)
        hint = f" Did you mean {_quoted(close)}?" if close else ""
        missing = ""
        if self._missing_locations:
            missing = f" (locations not found: {', '.join(self._missing_locations)})"
        return (
            f"{name!r} is not registered in the {self.name} registry.{hint} "
            f"Available: {_quoted(available)}{missing}"
        )

    def names(self) -> list[str]:
        """All registered names, sorted, after importing the locations.

        Returns:
            The sorted names, including entries that are imported on first use.
        """
        self._import_locations()
        return sorted({*self._entries, *self._lazy})

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.get(name)
        except RegistryError:
            return False
        return True

    def __len__(self) -> int:
        return len(self.names())

    # ------------------------------------------------------------------ building

    def build(self, cfg: Mapping[str, Any], **default_args: Any) -> Any:
        r"""Builds the object that a config dict describes.

        ``cfg["type"]`` is a registered name (a str) or a class or function object; the
        other keys are keyword arguments. ``default_args`` fill in keys that ``cfg`` lacks
        (``cfg`` wins, as in mmengine's ``build_from_cfg``), ``type`` included. A class is
        instantiated and a function is called; its result is returned.

        Nested configs are built first, through this same registry: a value that is a dict
        with a ``type`` key, or a list or tuple of such dicts, becomes the built object
        (list) before the outer call. Values under ``raw_keys`` and under keys ending in
        ``_cfg`` stay dicts. ``default_args`` are passed as they are.

        Args:
            cfg: the config; it is not modified.
            **default_args: arguments used when ``cfg`` does not set them.

        Returns:
            The new instance, or the function's return value.

        Raises:
            TypeError: if ``cfg`` is not a mapping, ``type`` is neither a str nor a class or
                function, or the arguments do not fit ``inspect.signature`` of the target:
                the message names the unknown and missing parameters and lists the accepted
                ones. A target that takes ``**kwargs`` accepts any extra name.
            RegistryError: if there is no ``type`` or it is not registered.

        Examples:
            >>> from knowledge.registry import MODELS
            >>> ppm = MODELS.build(dict(type="PPM", in_channels=64, channels=16))
            >>> ppm.out_channels
            128
            >>> MODELS.build(dict(type="PPM", in_channels=64, pool_scale=(1, 2)))
            Traceback (most recent call last):
            ...
            TypeError: cfg: cannot build PPM: unknown parameter 'pool_scale' (did you mean 'pool_scales'?); missing required parameter 'channels'. Accepted parameters: in_channels, channels, pool_scales, norm_layer, align_corners (required: in_channels, channels)
        """  # noqa: E501
        return self._build(cfg, default_args, "cfg")

    def _build(self, cfg: Any, default_args: Mapping[str, Any], where: str) -> Any:
        if not isinstance(cfg, Mapping):
            raise TypeError(f"{where} must be a dict with a 'type' key, got {type(cfg).__name__}")
        if "type" not in cfg and "type" not in default_args:
            raise RegistryError(
                f"{where} has no 'type' key (keys: {_quoted(cfg)}); add type='<registered "
                f"name>' to say what to build"
            )
        args = dict(default_args)
        for key, value in cfg.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} keys must be str, got {key!r}")
            if key == "type" or key in self.raw_keys or key.endswith("_cfg"):
                args[key] = value
            else:
                args[key] = self._build_nested(value, f"{where}.{key}")
        target_type = args.pop("type")
        if isinstance(target_type, str):
            try:
                target = self.get(target_type)
            except RegistryError as err:
                raise RegistryError(f"{where}: {err}") from None
        elif inspect.isclass(target_type) or inspect.isfunction(target_type):
            target = target_type
        else:
            raise TypeError(
                f"{where}['type'] must be a registered name (str) or a class or function, "
                f"got {type(target_type).__name__}"
            )
        self._check_arguments(target, args, where)
        return target(**args)

    def _build_nested(self, value: Any, where: str) -> Any:
        if isinstance(value, Mapping) and "type" in value:
            return self._build(value, {}, where)
        if type(value) in (list, tuple):
            return type(value)(self._build_nested(v, f"{where}[{i}]") for i, v in enumerate(value))
        return value

    @staticmethod
    def _check_arguments(target: Callable[..., Any], args: Mapping[str, Any], where: str) -> None:
        """Raises TypeError unless ``target(**args)`` fits ``inspect.signature(target)``."""
        try:
            sig = inspect.signature(target)
        except (TypeError, ValueError):  # some builtins have no signature: let the call decide
            return
        params = list(sig.parameters.values())
        var_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
        accepted = [p.name for p in params if p.kind in _BY_KEYWORD]
        required = [
            p.name
            for p in params
            if p.default is inspect.Parameter.empty
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        ]
        positional_only = {p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_ONLY}
        unknown = [] if var_keyword else [k for k in args if k not in accepted]
        missing = [n for n in required if n not in args or n in positional_only]
        if not unknown and not missing:
            return
        problems = []
        for k in unknown:
            close = difflib.get_close_matches(k, accepted, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown parameter {k!r}{hint}")
        for n in missing:
            note = " (positional-only: a config cannot set it)" if n in positional_only else ""
            problems.append(f"missing required parameter {n!r}{note}")
        listed = ", ".join(accepted) if accepted else "none"
        if var_keyword:
            listed += ", and any other keyword (**kwargs)"
        req = [n for n in required if n not in positional_only]
        listed += f" (required: {', '.join(req)})" if req else ""
        raise TypeError(
            f"{where}: cannot build {getattr(target, '__name__', target)}: "
            f"{'; '.join(problems)}. Accepted parameters: {listed}"
        )


# ---------------------------------------------------------------------- project registries

MODELS = Registry(
    "models",
    locations=("knowledge.blocks", "knowledge.models"),
    raw_keys=("norm_layer", "act_layer"),
)
"""The project's modules (``PPM``, ``PSPHead``, ...), found in ``knowledge.blocks`` and
``knowledge.models``, which are imported on the first lookup that misses."""

NORM_LAYERS = Registry("norm_layers")
"""Normalization layers by mmseg's names: ``BN`` (= ``BN2d``), ``BN1d``, ``BN2d``, ``BN3d``,
``SyncBN``, ``GN`` and ``LN``. Build them with ``build_norm_layer``."""

for _name, _cls in (
    ("BN", nn.BatchNorm2d),
    ("BN1d", nn.BatchNorm1d),
    ("BN2d", nn.BatchNorm2d),
    ("BN3d", nn.BatchNorm3d),
    ("GN", nn.GroupNorm),
    ("LN", nn.LayerNorm),
):
    NORM_LAYERS.register(name=_name, obj=_cls)
# knowledge.training may one day import this module: import it only when SyncBN is asked for.
NORM_LAYERS._register_lazy("SyncBN", "knowledge.training.batchnorm", "SyncBatchNorm")

# The argument that receives the channel count, where it is not called num_features.
_FEATURE_ARG: dict[type, str] = {nn.GroupNorm: "num_channels", nn.LayerNorm: "normalized_shape"}


def _split_norm_cfg(cfg: Any) -> tuple[Callable[..., Any], dict[str, Any], bool, str]:
    """Validates a norm config; returns (class, arguments, requires_grad, feature arg)."""
    if not isinstance(cfg, Mapping):
        raise TypeError(f"a norm config must be a dict such as dict(type='BN'), got {cfg!r}")
    args = dict(cfg)
    if "type" not in args:
        raise RegistryError(
            f"norm config {cfg!r} has no 'type'; choose one of {_quoted(NORM_LAYERS.names())}"
        )
    target_type = args.pop("type")
    target = NORM_LAYERS.get(target_type) if isinstance(target_type, str) else target_type
    if not inspect.isclass(target):
        raise TypeError(f"norm config type must be a registered name or a class, got {cfg!r}")
    requires_grad = args.pop("requires_grad", True)
    if not isinstance(requires_grad, bool):
        raise TypeError(f"requires_grad must be a bool, got {requires_grad!r}")
    feature_arg = _FEATURE_ARG.get(target, "num_features")
    if feature_arg in args:
        raise ValueError(
            f"norm config {cfg!r} sets {feature_arg!r}; leave it out: the channel count is "
            f"passed by the module that builds the layer"
        )
    return target, args, requires_grad, feature_arg


def build_norm_layer(cfg: Mapping[str, Any], num_features: int) -> nn.Module:
    r"""Builds a normalization layer for ``num_features`` channels from a config dict.

    ``cfg["type"]`` is a name in [`NORM_LAYERS`][knowledge.registry.NORM_LAYERS]; the other
    keys are the layer's arguments (checked against its signature), plus mmcv's
    ``requires_grad`` (False freezes the affine parameters). The channel count goes to the
    right argument: ``num_features`` for BN and SyncBN, ``num_channels`` for GN,
    ``normalized_shape`` for LN. Unlike mmcv's ``build_norm_layer``, which returns a
    ``(name, layer)`` pair for attribute naming, this returns the layer only.

    Note that ``LN`` normalizes the **last** dimension: it suits (B, L, C) tokens, not
    (B, C, H, W) feature maps.

    Args:
        cfg: e.g. ``dict(type="SyncBN")`` or ``dict(type="GN", num_groups=32)``.
        num_features: number of channels C.

    Returns:
        The new layer.

    Raises:
        TypeError: if ``cfg`` is not a dict or its arguments do not fit the layer.
        ValueError: if ``cfg`` sets the channel count itself.
        RegistryError: if the type is missing or unknown.

    Examples:
        >>> bn = build_norm_layer(dict(type="BN"), 64)
        >>> type(bn).__name__, bn.num_features
        ('BatchNorm2d', 64)
        >>> gn = build_norm_layer(dict(type="GN", num_groups=8, requires_grad=False), 64)
        >>> gn.num_groups, gn.num_channels, gn.weight.requires_grad
        (8, 64, False)
        >>> build_norm_layer(dict(type="GN"), 64)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        TypeError: norm cfg {'type': 'GN'}: cannot build GroupNorm: missing required parameter 'num_groups'. Accepted parameters: num_groups, num_channels, eps, affine, ...
    """  # noqa: E501
    target, args, requires_grad, feature_arg = _split_norm_cfg(cfg)
    args[feature_arg] = num_features
    Registry._check_arguments(target, args, f"norm cfg {dict(cfg)!r}")
    layer = target(**args)
    if not requires_grad:
        for p in layer.parameters():
            p.requires_grad_(False)
    return layer


def norm_factory(
    norm_layer: Callable[[int], nn.Module] | Mapping[str, Any],
) -> Callable[[int], nn.Module]:
    r"""Turns a norm layer factory or a norm config dict into a factory ``C -> module``.

    Modules take ``norm_layer`` as a factory (``nn.BatchNorm2d``, or
    ``functools.partial(nn.GroupNorm, 32)``) and call it with their channel count. A config
    dict is accepted too: its type and arguments are checked now, so a typo fails when the
    module is created, and each call builds a layer with
    [`build_norm_layer`][knowledge.registry.build_norm_layer].

    Args:
        norm_layer: a callable ``num_features -> nn.Module``, or a norm config dict.

    Returns:
        A callable ``num_features -> nn.Module``.

    Raises:
        TypeError: if ``norm_layer`` is neither callable nor a dict, or the dict's
            arguments do not fit the layer.
        RegistryError: if the dict's type is unknown.

    Examples:
        >>> make = norm_factory(dict(type="GN", num_groups=4))
        >>> gn = make(16)
        >>> type(gn).__name__, gn.num_groups, gn.num_channels
        ('GroupNorm', 4, 16)
        >>> norm_factory(nn.BatchNorm2d) is nn.BatchNorm2d
        True
    """
    if isinstance(norm_layer, Mapping):
        target, args, _, feature_arg = _split_norm_cfg(norm_layer)
        Registry._check_arguments(
            target, {**args, feature_arg: 1}, f"norm cfg {dict(norm_layer)!r}"
        )
        return partial(build_norm_layer, dict(norm_layer))
    if callable(norm_layer):
        return norm_layer
    raise TypeError(
        f"norm_layer must be a callable (such as nn.BatchNorm2d) or a norm config dict "
        f"(such as dict(type='SyncBN')), got {norm_layer!r}"
    )
