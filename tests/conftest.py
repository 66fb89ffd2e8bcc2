"""Shared fixtures: the real site, built in strict mode and read through its manifest."""

from __future__ import annotations

import pytest
from oracles import declare_torchvision_schemas
from sitebuild import ROOT, Build, finish_build, start_build

# torchmetrics and timm import torchvision when it is installed (a test-only oracle); on CPU
# torch that import needs the op schemas declared first. Do it once, before any test module.
declare_torchvision_schemas()


@pytest.fixture(scope="session")
def real_builds(tmp_path_factory) -> tuple[Build, Build]:
    """Two strict builds of the real site, run side by side (2 cores), for determinism.

    The first is *the* build that the page tests read; the second exists only to prove
    that two builds in a row give byte-identical HTML.
    """
    base = tmp_path_factory.mktemp("real")
    sites = [base / "site-a", base / "site-b"]
    procs = [start_build(ROOT / "mkdocs.yml", s) for s in sites]
    builds = tuple(finish_build(p, s) for p, s in zip(procs, sites, strict=True))
    for b in builds:
        assert b.returncode == 0, f"strict build of the real site failed:\n{b.log[-6000:]}"
    return builds  # type: ignore[return-value]


@pytest.fixture(scope="session")
def real_build(real_builds) -> Build:
    return real_builds[0]
