"""Tests for knowledge.training.batchnorm (SyncBatchNorm, convert_sync_batchnorm).

Oracle: torch's own BatchNorm1d/2d/3d run by ONE process on the concatenated batch, in
float64. The distributed tests spawn real processes (gloo on 127.0.0.1), one spawn per world
size, each running every case; the workers only record what SyncBatchNorm did, and all
comparisons happen here. torch.nn.SyncBatchNorm is the oracle for the constructor, the
state_dict and convert_sync_batchnorm.
"""

from __future__ import annotations

import copy
import inspect

import pytest
import torch
import torch.distributed as dist
from torch import nn

from knowledge.training import SyncBatchNorm, convert_sync_batchnorm
from knowledge.training._syncbn_worker import run_syncbn_cases, spawn_gloo

TOL = 1e-10
F64 = torch.float64
REF = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}


def random_state(gen: torch.Generator, c: int) -> dict[str, torch.Tensor]:
    """A non-trivial affine transform and running statistics, shared by SyncBN and the oracle."""
    return {
        "weight": torch.rand(c, generator=gen, dtype=F64) + 0.5,
        "bias": torch.randn(c, generator=gen, dtype=F64),
        "running_mean": torch.randn(c, generator=gen, dtype=F64),
        "running_var": torch.rand(c, generator=gen, dtype=F64) + 0.5,
        "num_batches_tracked": torch.tensor(3),
    }


def make_steps(gen, shape, n_steps, *, scale=2.0, offset=1.0, dtype=F64):
    """Training batches and random upstream weightings g (the loss is (y * g).sum())."""
    return [
        {
            "x": (torch.randn(shape, generator=gen, dtype=F64) * scale + offset).to(dtype),
            "g": torch.randn(shape, generator=gen, dtype=F64).to(dtype),
        }
        for _ in range(n_steps)
    ]


def make_cases(world_size: int) -> dict[str, dict]:
    gen = torch.Generator().manual_seed(100 + world_size)
    w = world_size
    uneven = {2: [1, 3], 3: [1, 3, 2]}[w]
    with_empty = {2: [4, 1], 3: [2, 0, 3]}[w]
    cases = {
        # 2d, uneven shards, two steps with momentum 0.1, then eval
        "2d_uneven": {
            "module": {"num_features": 3},
            "state": random_state(gen, 3),
            "splits": uneven,
            "steps": make_steps(gen, (sum(uneven), 3, 4, 5), 2),
            "eval_x": torch.randn(sum(uneven), 3, 4, 5, generator=gen, dtype=F64),
        },
        # 1d on (N, C), one rank may hold no sample at all
        "1d_with_empty_rank": {
            "module": {"num_features": 4, "momentum": 0.3},
            "state": random_state(gen, 4),
            "splits": with_empty,
            "steps": make_steps(gen, (sum(with_empty), 4), 2),
        },
        # 1d on (N, C, L) and 3d on (N, C, D, H, W)
        "1d_sequence": {
            "module": {"num_features": 2},
            "splits": [2] * w,
            "steps": make_steps(gen, (2 * w, 2, 7), 1),
        },
        "3d": {
            "module": {"num_features": 2, "eps": 1e-3},
            "state": random_state(gen, 2),
            "splits": [1, 2, 1][:w],
            "steps": make_steps(gen, (sum([1, 2, 1][:w]), 2, 3, 2, 4), 1),
        },
        # one sample of 1x1 per rank: plain BN would see one value per channel
        "batch1_1x1": {
            "module": {"num_features": 5},
            "state": random_state(gen, 5),
            "splits": [1] * w,
            "steps": make_steps(gen, (w, 5, 1, 1), 1),
        },
        # momentum=None: cumulative average over several steps, then eval
        "cumulative_average": {
            "module": {"num_features": 3, "momentum": None},
            "splits": [2, 1, 3][:w],
            "steps": make_steps(gen, (sum([2, 1, 3][:w]), 3, 2, 2), 4),
            "eval_x": torch.randn(sum([2, 1, 3][:w]), 3, 2, 2, generator=gen, dtype=F64),
        },
        # no affine parameters, no running statistics (eval then uses local batch statistics)
        "no_affine_no_tracking": {
            "module": {"num_features": 3, "affine": False, "track_running_stats": False},
            "splits": [3] * w,
            "steps": make_steps(gen, (3 * w, 3, 2, 3), 1),
            "eval_x": torch.randn(3 * w, 3, 2, 3, generator=gen, dtype=F64),
        },
        # float32 with a large mean and a tiny spread: E[x^2] - E[x]^2 would cancel to noise
        "float32_large_mean": {
            "module": {"num_features": 2, "momentum": 1.0, "dtype": "float32"},
            "splits": [8] * w,
            "steps": make_steps(gen, (8 * w, 2, 4, 4), 1, scale=1e-2, offset=1e3,
                                dtype=torch.float32),
        },
    }  # fmt: skip
    # Only some ranks synchronize, through a process_group; the others stay out. With world
    # size 2 the group holds rank 1 alone: a group of size 1 falls back to plain BN.
    members, splits = {2: ([1], [4]), 3: ([0, 2], [2, 3])}[w]
    cases["subgroup"] = {
        "module": {"num_features": 3},
        "state": random_state(gen, 3),
        "group_ranks": members,
        "splits": splits,
        "steps": make_steps(gen, (sum(splits), 3, 3, 3), 2),
    }
    return cases


@pytest.fixture(scope="module", params=[2, 3], ids=["world2", "world3"])
def spawned(request):
    """One real distributed run per world size; every case and check shares it."""
    world_size = request.param
    cases = make_cases(world_size)
    ranks = spawn_gloo(run_syncbn_cases, world_size, list(cases.values()))
    results = {
        name: [r["cases"][i] for r in ranks] for i, name in enumerate(cases)
    }  # name -> per-rank results
    return world_size, cases, results, [r["torch_error"] for r in ranks]


def reference_run(case: dict) -> dict:
    """The oracle: torch's BatchNormNd on the concatenated batch, in one process, float64."""
    kwargs = {k: v for k, v in case["module"].items() if k != "dtype"}
    ref = REF[case["steps"][0]["x"].dim()](dtype=F64, **kwargs)
    if case.get("state") is not None:
        ref.load_state_dict(case["state"])
    out = {k: [] for k in ("y", "grad_x", "grad_weight", "grad_bias", "rm", "rv", "nbt")}
    for step in case["steps"]:
        ref.zero_grad(set_to_none=True)
        x = step["x"].to(F64).requires_grad_(True)
        y = ref(x)
        (y * step["g"].to(F64)).sum().backward()
        out["y"].append(y.detach())
        out["grad_x"].append(x.grad)
        out["grad_weight"].append(None if ref.weight is None else ref.weight.grad)
        out["grad_bias"].append(None if ref.bias is None else ref.bias.grad)
        for key, buf in (
            ("rm", "running_mean"),
            ("rv", "running_var"),
            ("nbt", "num_batches_tracked"),
        ):
            value = getattr(ref, buf)
            out[key].append(None if value is None else value.clone())
    out["ref"] = ref
    return out


def assert_close(actual, expected, tol=TOL, what=""):
    assert actual.shape == expected.shape, what
    diff = (actual.to(F64) - expected.to(F64)).abs().max().item() if actual.numel() else 0.0
    assert diff <= tol, f"{what}: max |diff| = {diff:.3e} > {tol}"


F64_CASES = [
    "2d_uneven",
    "1d_with_empty_rank",
    "1d_sequence",
    "3d",
    "batch1_1x1",
    "cumulative_average",
    "no_affine_no_tracking",
]


@pytest.mark.parametrize("name", [*F64_CASES, "subgroup"])
def test_matches_full_batch_bn(spawned, name):
    world_size, cases, results, _ = spawned
    case, ranks = cases[name], results[name]
    ref = reference_run(case)
    if "group_ranks" in case:
        outside = [i not in case["group_ranks"] for i in range(world_size)]
        assert [r is None for r in ranks] == outside
        ranks = [r for r in ranks if r is not None]
    assert len(ranks) == len(case["splits"]) <= world_size
    for s in range(len(case["steps"])):
        at = f"{name} step {s}"
        assert_close(torch.cat([r["y"][s] for r in ranks]), ref["y"][s], what=f"{at} output")
        gx = torch.cat([r["grad_x"][s] for r in ranks])
        assert_close(gx, ref["grad_x"][s], what=f"{at} input grad")
        if ref["y"][s].numel() > 2 * ref["y"][s].shape[1]:  # with 2 values, y = +-1 is constant
            assert ref["grad_x"][s].abs().max() > 1e-3  # the random weighting g makes it non-zero
        if ref["grad_weight"][s] is not None:
            # each rank holds the gradient of its own samples; DDP adds them up
            gw = torch.stack([r["grad_weight"][s] for r in ranks]).sum(0)
            gb = torch.stack([r["grad_bias"][s] for r in ranks]).sum(0)
            assert_close(gw, ref["grad_weight"][s], what=f"{at} weight grad")
            assert_close(gb, ref["grad_bias"][s], what=f"{at} bias grad")
        else:
            assert all(r["grad_weight"][s] is None for r in ranks)
        for r in ranks:  # every rank ends with the same buffers as the single process
            if ref["rm"][s] is None:
                assert r["running_mean"][s] is None and r["running_var"][s] is None
                continue
            assert_close(r["running_mean"][s], ref["rm"][s], what=f"{at} running_mean")
            assert_close(r["running_var"][s], ref["rv"][s], what=f"{at} running_var")
            assert int(r["num_batches_tracked"][s]) == int(ref["nbt"][s])


def test_batch1_1x1_needs_sync(spawned):
    """Each rank alone has one value per channel: plain BN raises, SyncBN sees world_size."""
    world_size, cases, results, _ = spawned
    x_rank = cases["batch1_1x1"]["steps"][0]["x"][:1]
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm2d(5, dtype=F64)(x_rank)
    y = torch.cat([r["y"][0] for r in results["batch1_1x1"]])
    assert y.shape == (world_size, 5, 1, 1)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", ["2d_uneven", "cumulative_average", "no_affine_no_tracking"])
def test_eval_mode(spawned, name):
    """Eval uses the running statistics (no sync); without them, each rank's own batch."""
    _, cases, results, _ = spawned
    case, ranks = cases[name], results[name]
    ref = reference_run(case)["ref"].eval()
    with torch.no_grad():
        if case["module"].get("track_running_stats", True):
            assert_close(torch.cat([r["eval_y"] for r in ranks]), ref(case["eval_x"]))
        else:
            for r, x in zip(ranks, case["eval_x"].split(case["splits"]), strict=True):
                assert_close(r["eval_y"], ref(x))


def test_cumulative_average_is_plain_mean(spawned):
    """momentum=None: running_mean is the plain average of the global batch means."""
    _, cases, results, _ = spawned
    steps = cases["cumulative_average"]["steps"]
    batch_means = torch.stack([s["x"].mean(dim=(0, 2, 3)) for s in steps])  # (steps, C)
    for r in results["cumulative_average"]:
        for k in range(len(steps)):
            assert_close(r["running_mean"][k], batch_means[: k + 1].mean(0))
        assert int(r["num_batches_tracked"][-1]) == len(steps)


def test_float32_large_mean_is_stable(spawned):
    """Mean 1e3, std 1e-2 in float32: variance and output keep float32 accuracy."""
    _, cases, results, _ = spawned
    x = cases["float32_large_mean"]["steps"][0]["x"]
    expected = x.to(F64).var(dim=(0, 2, 3), unbiased=True)  # float64 oracle
    ref_y = nn.BatchNorm2d(2, dtype=F64)(x.to(F64))
    y = torch.cat([r["y"][0] for r in results["float32_large_mean"]])
    assert y.dtype == torch.float32
    assert_close(y, ref_y, tol=1e-4, what="float32 output")
    for r in results["float32_large_mean"]:
        rel = ((r["running_var"][0].to(F64) - expected) / expected).abs().max().item()
        assert rel < 1e-5, rel
    naive = (x.square().mean(dim=(0, 2, 3)) - x.mean(dim=(0, 2, 3)).square()).to(F64)
    assert ((naive - expected) / expected).abs().max() > 1e-1  # the naive formula would fail


def test_torch_syncbn_refuses_cpu(spawned):
    _, _, _, errors = spawned
    for e in errors:
        assert e.startswith("ValueError: SyncBatchNorm expected input tensor to be on GPU")


def test_rank_state_dict_loads_into_torch_syncbn(spawned):
    _, _, results, _ = spawned
    sd = results["2d_uneven"][0]["state_dict"]
    torch_bn = nn.SyncBatchNorm(3, dtype=F64)
    torch_bn.load_state_dict(sd)  # strict: same keys, same shapes
    for k, v in torch_bn.state_dict().items():
        assert torch.equal(v, sd[k]), k


# ------------------------------------------------------------------ single process


def test_signature_matches_torch():
    ours = inspect.signature(SyncBatchNorm.__init__).parameters
    theirs = inspect.signature(nn.SyncBatchNorm.__init__).parameters
    assert list(ours) == list(theirs)
    for name in theirs:
        assert ours[name].default == theirs[name].default, name
        assert ours[name].kind == theirs[name].kind, name


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        ((6, 4), {}),
        ((5, 3, 7), {"momentum": None}),
        ((4, 3, 5, 5), {"eps": 1e-3, "momentum": 0.3}),
        ((2, 2, 3, 4, 5), {}),
        ((4, 3, 2, 2), {"affine": False}),
        ((4, 3, 2, 2), {"track_running_stats": False}),
        ((4, 3, 2, 2), {"bias": False}),
    ],
)
def test_without_process_group_identical_to_batchnorm(shape, kwargs):
    gen = torch.Generator().manual_seed(1)
    c = shape[1]
    ref = REF[len(shape)](c, dtype=F64, **kwargs)
    ours = SyncBatchNorm(c, dtype=F64, **kwargs)
    if ref.weight is not None:
        with torch.no_grad():
            ref.weight.uniform_(0.5, 1.5, generator=gen)
            ours.weight.copy_(ref.weight)
    for _ in range(3):  # training steps, then eval
        x = torch.randn(shape, generator=gen, dtype=F64) * 3 + 2
        g = torch.randn(shape, generator=gen, dtype=F64)
        xr, xo = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        yr, yo = ref(xr), ours(xo)
        (yr * g).sum().backward()
        (yo * g).sum().backward()
        assert torch.equal(yo, yr)
        assert torch.equal(xo.grad, xr.grad)
        for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
            assert torch.equal(a.grad, b.grad)
        for a, b in zip(ours.buffers(), ref.buffers(), strict=True):
            assert torch.equal(a, b)
    ref.eval()
    ours.eval()
    x = torch.randn(shape, generator=gen, dtype=F64)
    assert torch.equal(ours(x), ref(x))


def test_world_size_one_process_group_on_cpu():
    """A real gloo group of one process: ours is plain BN, torch's SyncBatchNorm refuses CPU."""
    store = dist.HashStore()
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        gen = torch.Generator().manual_seed(4)
        x = torch.randn(2, 3, 4, 4, generator=gen, dtype=F64)
        ours, ref = SyncBatchNorm(3, dtype=F64), nn.BatchNorm2d(3, dtype=F64)
        assert torch.equal(ours(x), ref(x))
        assert torch.equal(ours.running_var, ref.running_var)
        with pytest.raises(ValueError, match="expected input tensor to be on GPU"):
            nn.SyncBatchNorm(3, dtype=F64)(x)
    finally:
        dist.destroy_process_group()


def test_one_value_per_channel_raises_without_sync():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        SyncBatchNorm(3)(torch.randn(1, 3, 1, 1))


@pytest.mark.parametrize(
    "kwargs", [{}, {"affine": False}, {"track_running_stats": False}, {"bias": False}]
)
def test_state_dict_round_trip_with_torch(kwargs):
    gen = torch.Generator().manual_seed(2)
    ours = SyncBatchNorm(4, momentum=0.5, **kwargs)
    ours(torch.randn(8, 4, 3, 3, generator=gen))  # moves the running statistics
    if ours.weight is not None:
        with torch.no_grad():
            ours.weight.uniform_(0.5, 1.5, generator=gen)
    theirs = nn.SyncBatchNorm(4, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    back = SyncBatchNorm(4, **kwargs)
    back.load_state_dict(theirs.state_dict())
    for k, v in ours.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def make_model() -> nn.Module:
    gen = torch.Generator().manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.BatchNorm2d(4),
        nn.Sequential(nn.Flatten(2), nn.BatchNorm1d(4, momentum=None)),
        nn.ModuleDict({"bn3d": nn.BatchNorm3d(2, eps=1e-3, affine=False), "fc": nn.Linear(2, 2)}),
    )
    model[1].num_batches_tracked.fill_(7)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-1, 1, generator=gen)
            m.running_var.uniform_(0.5, 2, generator=gen)
            if m.affine:
                with torch.no_grad():
                    m.weight.uniform_(0.5, 1.5, generator=gen)
                    m.bias.uniform_(-1, 1, generator=gen)
    model[1].weight.requires_grad_(False)  # a frozen BN
    model[2][1].eval()  # a BN kept in eval mode
    return model


def test_convert_sync_batchnorm_like_torch():
    model = make_model()
    expected = nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(model))
    original = copy.deepcopy(model)
    converted = convert_sync_batchnorm(model)
    assert converted is model  # converted in place, like torch
    assert list(converted.state_dict()) == list(expected.state_dict())
    for k, v in expected.state_dict().items():
        assert torch.equal(converted.state_dict()[k], v), k
    for (name, m), (_, e), (_, o) in zip(
        converted.named_modules(), expected.named_modules(), original.named_modules(), strict=True
    ):
        if isinstance(e, nn.SyncBatchNorm):
            assert type(m) is SyncBatchNorm, name
            for attr in ("num_features", "eps", "momentum", "affine", "track_running_stats"):
                assert getattr(m, attr) == getattr(o, attr), (name, attr)
        else:
            assert type(m) is type(o), name
        assert m.training == o.training == e.training, name
    for (_, p), (_, e) in zip(
        converted.named_parameters(), expected.named_parameters(), strict=True
    ):
        assert p.requires_grad == e.requires_grad
    assert not converted[1].weight.requires_grad
    assert not converted[2][1].training


def test_convert_top_level_and_process_group():
    bn = nn.BatchNorm2d(3).eval()
    out = convert_sync_batchnorm(bn, process_group="group-sentinel")
    assert type(out) is SyncBatchNorm and out is not bn
    assert out.process_group == "group-sentinel"
    assert not out.training
    assert out.weight is bn.weight and out.running_var is bn.running_var  # shared, like torch
    torch_sync = nn.SyncBatchNorm(3)
    assert type(convert_sync_batchnorm(torch_sync)) is SyncBatchNorm


def test_errors():
    bn = SyncBatchNorm(3)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        bn(torch.randn(3))
    with pytest.raises(ValueError, match="expected 3 channels"):
        bn(torch.randn(2, 4, 5))
    with pytest.raises(TypeError, match="num_features"):
        SyncBatchNorm(3.0)
    with pytest.raises(ValueError, match="num_features"):
        SyncBatchNorm(0)
    with pytest.raises(ValueError, match="momentum"):
        SyncBatchNorm(3, momentum=1.5)
    with pytest.raises(TypeError, match=r"nn\.Module"):
        convert_sync_batchnorm("not a module")
    with pytest.raises(ValueError, match="uninitialized"):
        convert_sync_batchnorm(nn.LazyBatchNorm2d())
