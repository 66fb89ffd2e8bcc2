"""Tests for knowledge.registry.

Oracles: ``inspect.signature`` of each target, read independently in the test to list the
parameters a message must name; torch's own norm classes; a fresh interpreter's
``sys.modules`` for the import-cycle guarantee.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import inspect
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import knowledge.training
from knowledge.registry import (
    MODELS,
    NORM_LAYERS,
    Registry,
    RegistryError,
    build_norm_layer,
    norm_factory,
)

# --------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------


def test_decorator_forms_and_lookup():
    reg = Registry("toys")

    @reg.register()
    class Car:
        pass

    @reg.register(name="bike")
    def make_bike() -> str:
        return "bike"

    @reg.register
    class Boat:
        pass

    class Plane:
        pass

    assert reg.register(obj=Plane) is Plane
    assert reg.get("Car") is Car and reg.get("bike") is make_bike and reg.get("Boat") is Boat
    assert reg.get("Plane") is Plane
    assert reg.names() == ["Boat", "Car", "Plane", "bike"]
    assert "Car" in reg and "make_bike" not in reg and 3 not in reg
    assert len(reg) == 4
    assert repr(reg) == (
        "Registry(name='toys', locations=(), registered=['Boat', 'Car', 'Plane', 'bike'])"
    )


@pytest.mark.parametrize(
    ("obj", "kind"),
    [
        (3, "an instance of int"),
        (functools.partial(max, 1), "an instance of partial"),
        (len, "builtin_function_or_method len"),
        (nn.ReLU(), "an instance of ReLU"),
    ],
)
def test_only_classes_and_functions_can_be_registered(obj, kind):
    reg = Registry("toys")
    assert not inspect.isclass(obj) and not inspect.isfunction(obj)  # what the rule is based on
    with pytest.raises(TypeError, match=r"inspect\.isclass") as info:
        reg.register(obj=obj)
    assert f"got {kind}" in str(info.value)
    assert reg.names() == []


def test_bad_name_and_force_arguments():
    reg = Registry("toys")
    with pytest.raises(TypeError, match="name must be"):
        reg.register(name=3)
    with pytest.raises(TypeError, match="name must be"):
        reg.register(name="")
    with pytest.raises(TypeError, match="force must be a bool"):
        reg.register(force=1)


def test_duplicate_names_need_force():
    reg = Registry("toys")

    @reg.register(name="Net")
    class First:
        pass

    class Second:
        pass

    with pytest.raises(RegistryError) as info:
        reg.register(name="Net", obj=Second)
    msg = str(info.value)
    assert isinstance(info.value, KeyError)
    assert "'Net' is already registered in the toys registry" in msg
    assert f"{First.__module__}.{First.__qualname__}" in msg  # names the existing object
    assert "force=True" in msg
    assert reg.get("Net") is First
    reg.register(name="Net", force=True, obj=Second)
    assert reg.get("Net") is Second


def test_the_same_definition_may_register_again():
    """A re-imported module defines a new class object with the same module and qualname."""
    reg = Registry("toys")

    def define():
        class Block:
            pass

        return Block

    first, second = define(), define()
    assert first is not second
    reg.register(obj=first)
    reg.register(obj=second)
    assert reg.get("Block") is second


# --------------------------------------------------------------------------------------
# Building and argument checks
# --------------------------------------------------------------------------------------


def accepted_and_required(target) -> tuple[list[str], list[str]]:
    """What a config may set, read straight from inspect.signature (the oracle)."""
    params = inspect.signature(target).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    accepted = [p.name for p in params if p.kind in kinds]
    required = [p.name for p in params if p.kind in kinds and p.default is p.empty]
    return accepted, required


def make_registry() -> tuple[Registry, type, type]:
    reg = Registry("parts", raw_keys=("norm_layer",))

    @reg.register()
    class Encoder:
        def __init__(self, depth: int, width: int, *, act: str = "relu", drop: float = 0.0):
            self.depth, self.width, self.act, self.drop = depth, width, act, drop

    @reg.register()
    class Net:
        def __init__(self, encoder, heads=(), norm_layer=None, loss_cfg=None, scale=1):
            self.encoder, self.heads, self.norm_layer = encoder, heads, norm_layer
            self.loss_cfg, self.scale = loss_cfg, scale

    @reg.register()
    def linear(x: float, *, a: float = 2.0, b: float = 1.0) -> float:
        return a * x + b

    return reg, Encoder, Net


def test_build_class_and_function_with_default_args():
    reg, encoder_cls, _ = make_registry()
    cfg = dict(type="Encoder", depth=50, width=64, act="gelu")
    enc = reg.build(cfg, act="silu", drop=0.5)
    assert isinstance(enc, encoder_cls)
    assert (enc.depth, enc.width, enc.act, enc.drop) == (50, 64, "gelu", 0.5)  # cfg wins
    assert cfg == dict(type="Encoder", depth=50, width=64, act="gelu")  # not modified
    assert reg.build(dict(type="linear", x=3.0)) == 7.0  # a function is called
    assert reg.build(dict(x=3.0), type="linear", b=0.0) == 6.0  # default type
    assert reg.build(dict(type=encoder_cls, depth=1, width=2)).width == 2  # a class object


def test_wrong_arguments_name_unknown_missing_and_accepted():
    reg, encoder_cls, _ = make_registry()
    accepted, required = accepted_and_required(encoder_cls)
    assert accepted == ["depth", "width", "act", "drop"] and required == ["depth", "width"]
    with pytest.raises(TypeError) as info:
        reg.build(dict(type="Encoder", depth=50, widht=64, dropout=0.1))
    msg = str(info.value)
    assert msg.startswith("cfg: cannot build Encoder: ")
    assert "unknown parameter 'widht' (did you mean 'width'?)" in msg
    assert "unknown parameter 'dropout' (did you mean 'drop'?)" in msg
    assert "missing required parameter 'width'" in msg
    assert "depth" not in msg.split("Accepted")[0]  # set correctly: not reported
    assert f"Accepted parameters: {', '.join(accepted)}" in msg
    assert f"(required: {', '.join(required)})" in msg


def test_wrong_arguments_of_the_real_ppm_against_its_signature():
    ppm_cls = MODELS.get("PPM")
    accepted, required = accepted_and_required(ppm_cls)
    with pytest.raises(TypeError) as info:
        MODELS.build(dict(type="PPM", in_channels=8, pool_size=(1, 2)))
    msg = str(info.value)
    assert "unknown parameter 'pool_size' (did you mean 'pool_scales'?)" in msg
    missing = [n for n in required if n != "in_channels"]
    for name in missing:
        assert f"missing required parameter {name!r}" in msg
    assert f"Accepted parameters: {', '.join(accepted)}" in msg


def test_kwargs_targets_accept_any_name_but_still_need_required_ones():
    reg = Registry("toys")

    @reg.register()
    class Head:
        def __init__(self, num_classes: int, **kwargs):
            self.num_classes, self.kwargs = num_classes, kwargs

    head = reg.build(dict(type="Head", num_classes=3, anything=1))
    assert head.kwargs == {"anything": 1}
    with pytest.raises(TypeError) as info:
        reg.build(dict(type="Head", anything=1))
    msg = str(info.value)
    assert "missing required parameter 'num_classes'" in msg and "unknown" not in msg
    assert "and any other keyword (**kwargs)" in msg


def test_positional_only_parameters_are_reported():
    reg = Registry("toys")

    @reg.register()
    def scale(x, /, factor=2):
        return x * factor

    with pytest.raises(TypeError, match="positional-only"):
        reg.build(dict(type="scale", x=1))


def test_bad_configs():
    reg, _, _ = make_registry()
    with pytest.raises(TypeError, match="must be a dict"):
        reg.build(["Encoder"])
    with pytest.raises(RegistryError, match="no 'type' key"):
        reg.build(dict(depth=1))
    with pytest.raises(TypeError, match=r"\['type'\] must be a registered name"):
        reg.build(dict(type=3))
    with pytest.raises(TypeError, match="must be a str"):
        reg.get(3)


def test_unknown_type_lists_close_matches_and_all_names():
    reg, _, _ = make_registry()
    with pytest.raises(RegistryError) as info:
        reg.build(dict(type="Encodr", depth=1, width=1))
    msg = str(info.value)
    assert isinstance(info.value, KeyError)
    assert msg.startswith("cfg: 'Encodr' is not registered in the parts registry.")
    assert "Did you mean 'Encoder'?" in msg
    assert "Available: 'Encoder', 'Net', 'linear'" in msg


@pytest.mark.parametrize(
    "name",
    [
        "__import__('os').system('echo pwned')",
        "os.system",
        "knowledge.blocks.ppm.PPM",  # a valid dotted path: still only a name
        "eval('1')",
    ],
)
def test_strings_are_never_evaluated_or_imported(name, monkeypatch):
    MODELS.names()  # import the code-declared locations first (their code may use exec)
    calls: list[str] = []

    def forbidden(*args, **kwargs):
        calls.append(repr(args[:1]))
        raise AssertionError("a config string was evaluated")

    real_import_module = importlib.import_module

    def recording_import_module(module, *args, **kwargs):
        calls.append(module)
        return real_import_module(module, *args, **kwargs)

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(importlib, "import_module", recording_import_module)
    reg = Registry("plain")
    with pytest.raises(RegistryError, match="is not registered"):
        reg.build(dict(type=name))
    assert calls == []  # nothing evaluated, nothing imported
    with pytest.raises(KeyError, match="is not registered in the models registry"):
        MODELS.build(dict(type=name))
    assert calls == []


# --------------------------------------------------------------------------------------
# Nested configs
# --------------------------------------------------------------------------------------


def test_nested_dicts_and_lists_are_built_raw_keys_are_not():
    reg, encoder_cls, net_cls = make_registry()
    norm_cfg = dict(type="GN", num_groups=2)
    loss_cfg = dict(type="CrossEntropy", weight=1.0)
    cfg = dict(
        type="Net",
        encoder=dict(type="Encoder", depth=18, width=32),
        heads=[dict(type="linear", x=1.0), dict(type="linear", x=2.0, a=0.0), "plain"],
        norm_layer=norm_cfg,
        loss_cfg=loss_cfg,
        scale=dict(value=3),  # a dict without 'type' is just a dict
    )
    net = reg.build(cfg)
    assert isinstance(net, net_cls) and isinstance(net.encoder, encoder_cls)
    assert (net.encoder.depth, net.encoder.width) == (18, 32)
    assert net.heads == [3.0, 1.0, "plain"]
    assert net.norm_layer is norm_cfg and net.loss_cfg is loss_cfg  # passed through
    assert net.scale == {"value": 3}
    assert cfg["encoder"] == dict(type="Encoder", depth=18, width=32)  # not modified
    tup = reg.build(dict(type="Net", encoder=None, heads=(dict(type="linear", x=0.0),)))
    assert tup.heads == (1.0,)


def test_nested_errors_name_their_path():
    reg, _, _ = make_registry()
    with pytest.raises(TypeError, match=r"^cfg\.encoder: cannot build Encoder: .*'width'"):
        reg.build(dict(type="Net", encoder=dict(type="Encoder", depth=1)))
    with pytest.raises(RegistryError, match=r"^cfg\.heads\[1\]: 'lin' is not registered"):
        reg.build(dict(type="Net", encoder=None, heads=[dict(type="linear", x=1), {"type": "lin"}]))


def test_models_builds_a_nested_psphead_with_a_norm_config():
    head = MODELS.build(
        dict(
            type="PSPHead",
            in_channels=32,
            channels=8,
            num_classes=3,
            pool_scales=(1, 2),
            norm_layer=dict(type="GN", num_groups=4),
        )
    )
    norms = [m for m in head.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 3 and all(m.num_groups == 4 for m in norms)  # 2 branches + bottleneck
    assert not any(isinstance(m, nn.BatchNorm2d) for m in head.modules())


# --------------------------------------------------------------------------------------
# Locations and lazy imports
# --------------------------------------------------------------------------------------


def test_missing_location_is_skipped_broken_location_is_not(tmp_path, monkeypatch):
    pkg = tmp_path / "regtest_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text(
        textwrap.dedent(
            """
            from knowledge.registry import Registry
            REG = Registry("located", locations=("regtest_pkg.good", "regtest_pkg.absent"))

            @REG.register()
            def found():
                return 1
            """
        )
    )
    (pkg / "broken.py").write_text("import regtest_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    good = importlib.import_module("regtest_pkg.good")
    assert good.REG.build(dict(type="found")) == 1
    with pytest.raises(RegistryError) as info:
        good.REG.get("lost")
    assert "locations not found: regtest_pkg.absent" in str(info.value)

    broken = Registry("broken", locations=("regtest_pkg.broken",))
    with pytest.raises(ModuleNotFoundError, match="regtest_no_such_dependency"):
        broken.get("anything")
    for name in ("regtest_pkg", "regtest_pkg.good", "regtest_pkg.broken"):
        sys.modules.pop(name, None)


def test_models_finds_the_blocks():
    assert MODELS.get("PPM").__module__ == "knowledge.blocks.ppm"
    assert {"PPM", "PSPHead"} <= set(MODELS.names())
    assert "knowledge.models" in MODELS.locations  # declared before it exists


def test_importing_the_registry_imports_no_model_code():
    code = textwrap.dedent(
        """
        import sys
        import knowledge.registry as r
        print("blocks" if "knowledge.blocks" in sys.modules else "-")
        print("training" if "knowledge.training" in sys.modules else "-")
        r.MODELS.get("PPM")
        print("blocks" if "knowledge.blocks" in sys.modules else "-")
        print(type(r.build_norm_layer({"type": "SyncBN"}, 4)).__module__)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert out == ["-", "-", "blocks", "knowledge.training.batchnorm"]


# --------------------------------------------------------------------------------------
# Norm layers
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cfg", "cls", "feature_attr"),
    [
        (dict(type="BN"), nn.BatchNorm2d, "num_features"),
        (dict(type="BN1d"), nn.BatchNorm1d, "num_features"),
        (dict(type="BN2d"), nn.BatchNorm2d, "num_features"),
        (dict(type="BN3d"), nn.BatchNorm3d, "num_features"),
        (dict(type="SyncBN"), knowledge.training.SyncBatchNorm, "num_features"),
        (dict(type="GN", num_groups=4), nn.GroupNorm, "num_channels"),
    ],
)
def test_norm_layers_build_the_right_classes(cfg, cls, feature_attr):
    layer = build_norm_layer(cfg, 16)
    assert type(layer) is cls
    assert getattr(layer, feature_attr) == 16
    assert cfg["type"] in NORM_LAYERS


def test_norm_layer_arguments_match_torch():
    torch.manual_seed(0)
    x = torch.randn(4, 16, 5, 5)
    gn = build_norm_layer(dict(type="GN", num_groups=4, eps=1e-3), 16)
    ref = nn.GroupNorm(4, 16, eps=1e-3)
    torch.testing.assert_close(gn(x), ref(x), rtol=0, atol=0)
    ln = build_norm_layer(dict(type="LN"), 16)
    assert type(ln) is nn.LayerNorm and ln.normalized_shape == (16,)
    bn = build_norm_layer(dict(type="BN", momentum=0.01, requires_grad=False), 16)
    assert bn.momentum == 0.01
    assert not bn.weight.requires_grad and not bn.bias.requires_grad


def test_norm_layer_errors():
    with pytest.raises(TypeError) as info:
        build_norm_layer(dict(type="GN"), 16)
    accepted, _ = accepted_and_required(nn.GroupNorm)
    assert "missing required parameter 'num_groups'" in str(info.value)
    assert f"Accepted parameters: {', '.join(accepted)}" in str(info.value)
    with pytest.raises(ValueError, match="sets 'num_features'"):
        build_norm_layer(dict(type="BN", num_features=16), 16)
    with pytest.raises(RegistryError, match="Did you mean 'SyncBN'"):
        build_norm_layer(dict(type="SyncBn"), 16)
    with pytest.raises(RegistryError, match="no 'type'"):
        build_norm_layer({}, 16)
    with pytest.raises(TypeError, match="norm config must be a dict"):
        build_norm_layer("BN", 16)
    with pytest.raises(TypeError, match="requires_grad must be a bool"):
        build_norm_layer(dict(type="BN", requires_grad="no"), 16)


def test_norm_factory():
    assert norm_factory(nn.BatchNorm2d) is nn.BatchNorm2d
    make = norm_factory(dict(type="GN", num_groups=2))
    assert [type(make(c)) for c in (4, 8)] == [nn.GroupNorm, nn.GroupNorm]
    assert make(8).num_channels == 8
    with pytest.raises(TypeError, match="unknown parameter 'groups'"):
        norm_factory(dict(type="GN", groups=2))  # fails early, before any layer is built
    with pytest.raises(RegistryError):
        norm_factory(dict(type="BatchNorm"))
    with pytest.raises(TypeError, match="norm_layer must be a callable"):
        norm_factory("BN")
