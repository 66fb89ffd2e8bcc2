"""Tests for knowledge.training.warmup against independent oracles.

Oracles: the warmup formulas and mmcv 1.x's LrUpdaterHook logic re-written here in plain
Python; mmengine 0.10's own ParamScheduler classes (LinearLR, ConstantLR, PolyLR,
CosineAnnealingLR, MultiStepLR), stepped once per iteration on a real torch optimizer; and
values worked out by hand.

Tolerances: mmengine schedulers are "chainable": each step multiplies the optimizer's
current lr by a ratio, so rounding accumulates, about one float64 epsilon (1.1e-16) per
step. Ours computes every lr in closed form. Hence rel=1e-12 for a few hundred iterations
and rel=1e-10 for 160k. The plain-Python mmcv reference uses mmcv's operations in mmcv's
order, so it must agree exactly.
"""

from __future__ import annotations

import io
import math
import warnings

import pytest
import torch

from knowledge.training import WarmupCosineLR, WarmupPolyLR, WarmupStepLR, warmup_factor

with warnings.catch_warnings():
    # mmengine.optim imports torch.distributed.optim, whose torch.jit.script decorators emit
    # DeprecationWarnings on torch 2.13 at import time (nothing to do with schedulers).
    warnings.simplefilter("ignore", DeprecationWarning)
    from mmengine.optim.scheduler import (
        ConstantLR,
        CosineAnnealingLR,
        LinearLR,
        MultiStepLR,
        PolyLR,
    )

BASE_LRS = (0.01, 0.002)  # two parameter groups, as with a head lr_mult


def make_optimizer(base_lrs: tuple[float, ...] = BASE_LRS) -> torch.optim.Optimizer:
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in base_lrs]
    return torch.optim.SGD(groups, lr=base_lrs[0])


def run(opt: torch.optim.Optimizer, schedulers: list, n: int) -> list[list[float]]:
    """The lr of every group at iterations 0..n-1 of a training loop.

    The optimizer steps (gradients are None, so parameters stay put) before the schedulers,
    which is the order both torch and mmengine expect.
    """
    out = []
    for _ in range(n):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        for s in schedulers:
            s.step()
    return out


def assert_close(actual: list[list[float]], expected: list[list[float]], rel: float) -> None:
    assert len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        assert a == pytest.approx(e, rel=rel, abs=1e-300), f"iteration {i}: {a} != {e}"


# --------------------------------------------------------------------------------------
# warmup_factor: plain-Python reference and hand-worked values
# --------------------------------------------------------------------------------------


def reference_factor(i: int, mode: str, w: int, r: float) -> float:
    if i >= w:
        return 1.0
    if mode == "constant":
        return r
    if mode == "linear":
        return 1 - (1 - i / w) * (1 - r)
    return r ** (1 - i / w)


@pytest.mark.parametrize("mode", ["constant", "linear", "exp"])
@pytest.mark.parametrize("w", [1, 2, 7, 1500])
@pytest.mark.parametrize("r", [1e-6, 0.1, 1 / 3, 1.0])
def test_warmup_factor_matches_formulas(mode: str, w: int, r: float) -> None:
    for i in [*range(min(w, 40) + 3), w - 1, w, w + 1, 10 * w]:
        got = warmup_factor(i, mode=mode, warmup_iters=w, warmup_ratio=r)
        assert got == reference_factor(i, mode, w, r), (mode, w, r, i)
        assert r * (1 - 1e-15) <= got <= 1.0  # up to one rounding of 1 - (1 - r)


def test_warmup_factor_hand_worked() -> None:
    # linear, W=10, r=0.1: i=5 -> 1 - (1 - 5/10)(1 - 0.1) = 1 - 0.5 * 0.9 = 0.55
    assert warmup_factor(5, mode="linear", warmup_iters=10, warmup_ratio=0.1) == pytest.approx(0.55)
    # linear starts at r (i=0: 1 - 1 * 0.9 = 0.1); i=9: 1 - 0.1 * 0.9 = 0.91
    assert warmup_factor(0, mode="linear", warmup_iters=10, warmup_ratio=0.1) == pytest.approx(0.1)
    assert warmup_factor(9, mode="linear", warmup_iters=10, warmup_ratio=0.1) == pytest.approx(0.91)
    # exp, W=10, r=0.01: i=5 -> 0.01 ** 0.5 = 0.1; i=0 -> 0.01
    assert warmup_factor(5, mode="exp", warmup_iters=10, warmup_ratio=0.01) == pytest.approx(0.1)
    assert warmup_factor(0, mode="exp", warmup_iters=10, warmup_ratio=0.01) == pytest.approx(0.01)
    # constant stays at r until W, then jumps to 1
    assert warmup_factor(9, mode="constant", warmup_iters=10, warmup_ratio=0.25) == 0.25
    for mode in ("constant", "linear", "exp"):
        assert warmup_factor(10, mode=mode, warmup_iters=10, warmup_ratio=0.1) == 1.0
    # the recipe: linear from 1e-6 over 1500 iterations, halfway: 1 - 0.5 * (1 - 1e-6)
    got = warmup_factor(750, mode="linear", warmup_iters=1500, warmup_ratio=1e-6)
    assert got == pytest.approx(0.5000005, rel=1e-12)


# --------------------------------------------------------------------------------------
# mmcv 1.x style: a plain-Python transcription of LrUpdaterHook (by_epoch=False)
# --------------------------------------------------------------------------------------


def mmcv_lrs(
    policy: str,
    n: int,
    *,
    max_iters: int,
    warmup: str | None,
    warmup_iters: int,
    warmup_ratio: float,
    **kw: float,
) -> list[list[float]]:
    """LrUpdaterHook.before_train_iter for runner.iter = 0..n-1 (regular lr, then warmup)."""
    out = []
    for it in range(n):
        regular = []
        for base in BASE_LRS:
            if policy == "poly":
                coeff = (1 - it / max_iters) ** kw["power"]
                regular.append((base - kw["min_lr"]) * coeff + kw["min_lr"])
            elif policy == "cosine":  # annealing_cos(base, min_lr, it / max_iters)
                cos_out = math.cos(math.pi * (it / max_iters)) + 1
                regular.append(kw["min_lr"] + 0.5 * (base - kw["min_lr"]) * cos_out)
            else:  # step with a list: exp = index of the first step > it
                exp = len(kw["steps"])
                for j, s in enumerate(kw["steps"]):
                    if it < s:
                        exp = j
                        break
                regular.append(base * kw["gamma"] ** exp)
        if warmup is None or it >= warmup_iters:
            out.append(regular)
        elif warmup == "constant":
            out.append([lr * warmup_ratio for lr in regular])
        elif warmup == "linear":
            k = (1 - it / warmup_iters) * (1 - warmup_ratio)
            out.append([lr * (1 - k) for lr in regular])
        else:
            k = warmup_ratio ** (1 - it / warmup_iters)
            out.append([lr * k for lr in regular])
    return out


WARMUPS = [(None, 0, 0.1), ("constant", 15, 0.1), ("linear", 15, 1e-6), ("exp", 15, 0.01)]


@pytest.mark.parametrize(("warmup", "w", "r"), WARMUPS)
@pytest.mark.parametrize(("power", "min_lr"), [(1.0, 0.0), (0.9, 1e-4)])
def test_mmcv_poly_matches_reference(warmup: str | None, w: int, r: float, power, min_lr) -> None:
    n = 200
    opt = make_optimizer()
    sched = WarmupPolyLR(
        opt, max_iters=n, power=power, min_lr=min_lr, warmup=warmup, warmup_iters=w, warmup_ratio=r
    )
    expected = mmcv_lrs(
        "poly", n, max_iters=n, warmup=warmup, warmup_iters=w, warmup_ratio=r,
        power=power, min_lr=min_lr,
    )  # fmt: skip
    assert run(opt, [sched], n) == expected


@pytest.mark.parametrize(("warmup", "w", "r"), WARMUPS)
def test_mmcv_cosine_and_step_match_reference(warmup: str | None, w: int, r: float) -> None:
    n = 200
    opt = make_optimizer()
    sched = WarmupCosineLR(
        opt, max_iters=n, min_lr=1e-5, warmup=warmup, warmup_iters=w, warmup_ratio=r
    )
    expected = mmcv_lrs(
        "cosine", n, max_iters=n, warmup=warmup, warmup_iters=w, warmup_ratio=r, min_lr=1e-5
    )
    assert run(opt, [sched], n) == expected

    opt = make_optimizer()
    steps = (10, 120, 160)  # the first one inside the warmup
    sched = WarmupStepLR(
        opt, max_iters=n, steps=steps, gamma=0.5, warmup=warmup, warmup_iters=w, warmup_ratio=r
    )
    expected = mmcv_lrs(
        "step", n, max_iters=n, warmup=warmup, warmup_iters=w, warmup_ratio=r,
        steps=steps, gamma=0.5,
    )  # fmt: skip
    assert run(opt, [sched], n) == expected


# --------------------------------------------------------------------------------------
# mmengine style: mmengine itself is the oracle
# --------------------------------------------------------------------------------------


def mmengine_warmup(opt, warmup: str | None, w: int, r: float) -> list:
    if warmup is None:
        return []
    cls = LinearLR if warmup == "linear" else ConstantLR
    kw = {"start_factor": r} if warmup == "linear" else {"factor": r}
    return [cls(opt, **kw, begin=0, end=w, by_epoch=False)]


MME_WARMUPS = [(None, 0, 0.1), ("linear", 15, 1e-6), ("linear", 2, 0.5), ("constant", 15, 0.1)]


@pytest.mark.parametrize(("warmup", "w", "r"), MME_WARMUPS)
@pytest.mark.parametrize(("power", "min_lr"), [(1.0, 0.0), (0.9, 1e-4)])
def test_mmengine_poly_matches_mmengine(warmup, w, r, power, min_lr) -> None:
    n, extra = 200, 5  # a few steps past the end: the lr must stay put
    ref_opt = make_optimizer()
    ref = [
        *mmengine_warmup(ref_opt, warmup, w, r),
        PolyLR(ref_opt, eta_min=min_lr, power=power, begin=w, end=n, by_epoch=False),
    ]
    opt = make_optimizer()
    sched = WarmupPolyLR(
        opt, max_iters=n, power=power, min_lr=min_lr,
        warmup=warmup, warmup_iters=w, warmup_ratio=r, style="mmengine",
    )  # fmt: skip
    expected = run(ref_opt, ref, n + extra)
    assert_close(run(opt, [sched], n + extra), expected, rel=1e-12)
    assert expected[n - 1] == pytest.approx([min_lr, min_lr], abs=1e-18)  # T = end - begin - 1


@pytest.mark.parametrize(("warmup", "w", "r"), MME_WARMUPS)
def test_mmengine_cosine_matches_mmengine(warmup, w, r) -> None:
    n = 200
    ref_opt = make_optimizer()
    ref = [
        *mmengine_warmup(ref_opt, warmup, w, r),
        CosineAnnealingLR(ref_opt, eta_min=1e-5, begin=w, end=n, by_epoch=False),
    ]
    opt = make_optimizer()
    sched = WarmupCosineLR(
        opt, max_iters=n, min_lr=1e-5, warmup=warmup, warmup_iters=w, warmup_ratio=r,
        style="mmengine",
    )  # fmt: skip
    assert_close(run(opt, [sched], n + 3), run(ref_opt, ref, n + 3), rel=1e-12)


@pytest.mark.parametrize(("warmup", "w", "r"), MME_WARMUPS)
def test_mmengine_step_matches_mmengine(warmup, w, r) -> None:
    n, steps = 200, (10, 120, 160)  # MultiStepLR overlaps the warmup (begin=0)
    ref_opt = make_optimizer()
    ref = [
        *mmengine_warmup(ref_opt, warmup, w, r),
        MultiStepLR(ref_opt, milestones=list(steps), gamma=0.5, begin=0, end=n, by_epoch=False),
    ]
    opt = make_optimizer()
    sched = WarmupStepLR(
        opt, max_iters=n, steps=steps, gamma=0.5,
        warmup=warmup, warmup_iters=w, warmup_ratio=r, style="mmengine",
    )  # fmt: skip
    assert_close(run(opt, [sched], n + 3), run(ref_opt, ref, n + 3), rel=1e-12)


def test_mmengine_recipe_full_length() -> None:
    """Swin + UPerNet on ADE20K (mmseg 1.x): AdamW 6e-5, LinearLR(1e-6, 0, 1500), PolyLR to 160k.

    Our side uses lr_at (closed form); the test below checks that lr_at equals stepping.
    """
    n, w = 160_000, 1500
    ref_opt = make_optimizer((6e-5,))
    ref = [
        LinearLR(ref_opt, start_factor=1e-6, begin=0, end=w, by_epoch=False),
        PolyLR(ref_opt, eta_min=0.0, power=1.0, begin=w, end=n, by_epoch=False),
    ]
    ref_opt.step()  # once, so that neither library warns about the call order
    expected = []
    for _ in range(n):
        expected.append(ref_opt.param_groups[0]["lr"])
        for s in ref:
            s.step()
    sched = WarmupPolyLR(
        make_optimizer((6e-5,)), max_iters=n, power=1.0, min_lr=0.0,
        warmup="linear", warmup_iters=w, warmup_ratio=1e-6, style="mmengine",
    )  # fmt: skip
    lr_at = sched.lr_at
    got = [lr_at(i)[0] for i in range(n)]
    worst = max(abs(g - e) / e for g, e in zip(got, expected, strict=True) if e != 0)
    assert worst < 1e-10
    assert (
        [i for i, e in enumerate(expected) if e == 0]
        == [n - 1]
        == [i for i, g in enumerate(got) if g == 0]
    )
    # the values the page quotes, worked by hand:
    assert got[0] == pytest.approx(6e-11)  # 6e-5 * 1e-6
    assert got[750] == pytest.approx(6e-5 * (1e-6 + (1 - 1e-6) * 750 / 1499))
    assert got[1499] == pytest.approx(6e-5) and got[1500] == pytest.approx(6e-5)
    assert got[80_000] == pytest.approx(6e-5 * (1 - 78_500 / 158_499))  # t = i - 1500
    assert got[159_999] == 0.0


# --------------------------------------------------------------------------------------
# closed form == stepping; resume from state_dict
# --------------------------------------------------------------------------------------


def all_schedulers(opt: torch.optim.Optimizer, style: str, n: int = 120) -> list:
    warm = {"warmup": "linear", "warmup_iters": 15, "warmup_ratio": 1e-3, "style": style}
    return [
        WarmupPolyLR(opt, max_iters=n, power=0.9, min_lr=1e-5, **warm),
        WarmupCosineLR(opt, max_iters=n, min_lr=1e-5, **warm),
        WarmupStepLR(opt, max_iters=n, steps=(40, 80), gamma=0.1, **warm),
    ]


@pytest.mark.parametrize("style", ["mmcv", "mmengine"])
@pytest.mark.parametrize("which", [0, 1, 2])
def test_lr_at_equals_stepping(style: str, which: int) -> None:
    n = 120
    opt = make_optimizer()
    sched = all_schedulers(opt, style, n)[which]
    stepped = run(opt, [sched], n + 4)
    assert stepped == [sched.lr_at(i) for i in range(n + 4)]
    assert stepped[n + 3] == stepped[n - 1]  # past max_iters the lr holds its last value


@pytest.mark.parametrize("style", ["mmcv", "mmengine"])
@pytest.mark.parametrize("which", [0, 1, 2])
@pytest.mark.parametrize("stop", [7, 60])  # mid-warmup, mid-decay
def test_resume_from_state_dict(style: str, which: int, stop: int) -> None:
    n = 120
    opt = make_optimizer()
    straight = run(opt, [all_schedulers(opt, style, n)[which]], n)

    opt = make_optimizer()
    sched = all_schedulers(opt, style, n)[which]
    first = run(opt, [sched], stop)
    buf = io.BytesIO()
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)

    # a fresh process would rebuild both, then load: scheduler first, as torch advises
    opt2 = make_optimizer()
    sched2 = all_schedulers(opt2, style, n)[which]
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    assert first + run(opt2, [sched2], n - stop) == straight

    # the closed form does not depend on the optimizer's current lr: the scheduler state
    # alone is enough from the next step on
    opt3 = make_optimizer()
    sched3 = all_schedulers(opt3, style, n)[which]
    sched3.load_state_dict(ckpt["scheduler"])
    opt3.step()
    sched3.step()
    assert [g["lr"] for g in opt3.param_groups] == straight[stop + 1]


def test_multiple_groups_scale_with_their_base_lr() -> None:
    opt = make_optimizer()
    sched = WarmupPolyLR(
        opt, max_iters=100, warmup="exp", warmup_iters=10, warmup_ratio=0.01, style="mmcv"
    )
    for i in (0, 5, 50):
        a, b = sched.lr_at(i)
        assert a / b == pytest.approx(BASE_LRS[0] / BASE_LRS[1])


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"cur_iter": -1}, ValueError, r"cur_iter must be >= 0 .*got -1"),
        ({"cur_iter": 1.5}, TypeError, r"cur_iter must be an int"),
        (
            {"mode": "cosine"},
            ValueError,
            r"unknown warmup mode 'cosine'.*'constant', 'linear', 'exp'",
        ),
        ({"warmup_ratio": 0.0}, ValueError, r"warmup_ratio must be in \(0, 1\], got 0.0"),
        ({"warmup_ratio": 1.5}, ValueError, r"warmup_ratio must be in \(0, 1\]"),
        ({"warmup_ratio": float("nan")}, ValueError, r"warmup_ratio must be in \(0, 1\]"),
        ({"warmup_ratio": "0.1"}, TypeError, r"warmup_ratio must be a real number"),
        ({"warmup_iters": 0}, ValueError, r"warmup_iters must be >= 1, got 0"),
        ({"warmup_iters": True}, TypeError, r"warmup_iters must be an int"),
    ],
)
def test_warmup_factor_errors(kwargs: dict, exc: type, match: str) -> None:
    args = {"cur_iter": 3, "mode": "linear", "warmup_iters": 10, "warmup_ratio": 0.1} | kwargs
    cur_iter = args.pop("cur_iter")
    with pytest.raises(exc, match=match):
        warmup_factor(cur_iter, **args)


@pytest.mark.parametrize(
    ("cls", "kwargs", "exc", "match"),
    [
        (WarmupPolyLR, {"max_iters": 0}, ValueError, r"max_iters must be >= 1, got 0"),
        (WarmupPolyLR, {"warmup_iters": 100}, ValueError, r"max_iters=100 must be greater than"),
        (WarmupPolyLR, {"warmup_iters": 0}, ValueError, r"warmup_iters must be >= 1, got 0"),
        (WarmupPolyLR, {"warmup": "cosine"}, ValueError, r"unknown warmup mode 'cosine'"),
        (WarmupPolyLR, {"warmup_ratio": 0}, ValueError, r"warmup_ratio must be in \(0, 1\]"),
        (
            WarmupPolyLR,
            {"style": "mmseg"},
            ValueError,
            r"unknown style 'mmseg'.*'mmcv', 'mmengine'",
        ),
        (WarmupPolyLR, {"style": "mmengine", "warmup": "exp"}, ValueError, r"no exponential"),
        (WarmupPolyLR, {"style": "mmengine", "warmup_iters": 1}, ValueError, r">= 2 for style"),
        (WarmupPolyLR, {"warmup": None}, ValueError, r"warmup_iters=10 has no effect"),
        (WarmupPolyLR, {"power": 0.0}, ValueError, r"power must be > 0"),
        (WarmupPolyLR, {"min_lr": 0.5}, ValueError, r"min_lr must be in \[0, smallest base lr"),
        (WarmupCosineLR, {"min_lr": -1e-6}, ValueError, r"min_lr must be in \[0,"),
        (WarmupStepLR, {"steps": ()}, ValueError, r"at least one iteration"),
        (WarmupStepLR, {"steps": 30}, TypeError, r"steps must be a sequence of ints"),
        (WarmupStepLR, {"steps": (50, 30)}, ValueError, r"strictly increasing"),
        (WarmupStepLR, {"steps": (30, 100)}, ValueError, r"below max_iters=100"),
        (WarmupStepLR, {"steps": (0, 30)}, ValueError, r"every entry of steps must be >= 1"),
        (WarmupStepLR, {"gamma": 0.0}, ValueError, r"gamma must be in \(0, 1\]"),
    ],
)
def test_scheduler_errors(cls: type, kwargs: dict, exc: type, match: str) -> None:
    args = {"max_iters": 100, "warmup": "linear", "warmup_iters": 10, "warmup_ratio": 0.1}
    if cls is WarmupStepLR:
        args["steps"] = (30, 60)
    with pytest.raises(exc, match=match):
        cls(make_optimizer(), **(args | kwargs))


def test_negative_iteration_and_bad_optimizer() -> None:
    sched = WarmupPolyLR(make_optimizer(), max_iters=10)
    with pytest.raises(ValueError, match=r"iteration must be >= 0 .*got -1"):
        sched.lr_at(-1)
    with pytest.raises(TypeError, match=r"optimizer must be a torch.optim.Optimizer"):
        WarmupPolyLR([torch.zeros(1)], max_iters=10)  # type: ignore[arg-type]
