"""Proof that the strict build catches each failure mode and names the page and the cause.

A small fixture site is derived from the real ``mkdocs.yml`` (same theme, plugins, hooks and
Markdown extensions; only docs_dir, the snippet base path and the nav change). Each case
mutates one thing; the unmutated control must build.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sitebuild import finish_build, make_site, start_build


def _append_to_snippet(code: str):
    def mutate(docs: Path) -> None:
        p = docs / "snippets" / "demo" / "good.py"
        p.write_text(p.read_text() + code)

    return mutate


def _replace_in(name: str, old: str, new: str):
    def mutate(docs: Path) -> None:
        p = docs / name
        text = p.read_text("utf-8")
        assert old in text
        p.write_text(text.replace(old, new), "utf-8")

    return mutate


CASES = {
    "control": (lambda docs: None, []),
    "raising block": (
        _append_to_snippet("raise ValueError('boom')\n"),
        ["page.zh.md", "demo/good.py", "ValueError: boom"],
    ),
    "SystemExit": (
        _append_to_snippet("raise SystemExit(3)\n"),
        ["page.zh.md", "demo/good.py", "SystemExit"],
    ),
    "stdout bypassing print": (
        _append_to_snippet("import sys\nsys.stdout.write('lost\\n')\n"),
        ["page.zh.md", "demo/good.py", "sys.stdout directly"],
    ),
    "missing translation": (
        lambda docs: (docs / "page.en.md").unlink(),
        ["missing translation", "page.zh.md"],
    ),
    "broken anchor": (
        _replace_in("index.en.md", "#section-one", "#no-such-section"),
        ["index.en.md", "no-such-section"],
    ),
    "broken link": (
        _replace_in("index.zh.md", "page.md#第一节", "nowhere.md"),
        ["index.zh.md", "nowhere.md"],
    ),
    "missing snippet": (
        _replace_in("page.en.md", "demo/good.py", "demo/absent.py"),
        ["page.en.md", "missing snippet", "demo/absent.py"],
    ),
    "inline executed code": (
        _replace_in("page.zh.md", '--8<-- "demo/good.py"', "print(1)"),
        ["page.zh.md", "inline executed code"],
    ),
}


@pytest.fixture(scope="module")
def fixture_builds(tmp_path_factory):
    def run(name: str):
        root = tmp_path_factory.mktemp(re.sub(r"\W+", "-", name))
        config = make_site(root, CASES[name][0])
        site = root / "site"
        return name, finish_build(start_build(config, site), site, timeout=300)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, CASES))


@pytest.mark.parametrize("case", list(CASES))
def test_failure_mode_is_caught_and_named(case, fixture_builds):
    build = fixture_builds[case]
    expected = CASES[case][1]
    if not expected:
        assert build.returncode == 0, build.log[-4000:]
        assert (build.site / "page" / "index.html").is_file()
        assert (build.site / "en" / "page" / "index.html").is_file()
        assert [b["error"] for b in build.blocks] == [None, None]
        return
    assert build.returncode != 0, f"{case} was not caught:\n{build.log[-4000:]}"
    problems = [ln for ln in build.log.splitlines() if ln.startswith(("ERROR", "WARNING"))]
    text = "\n".join(problems) or build.log
    for needle in expected:
        assert needle in text, f"{case}: {needle!r} not in\n{text[-3000:]}"
