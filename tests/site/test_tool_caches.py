"""What a warm build reuses from the build tools themselves, and that it changes nothing.

The hook keeps three kinds of the tools' own work (never a block's output): highlighted code
(in memory, shared by the two languages), compiled Jinja templates (build/jinja-cache/) and
signatures formatted by Ruff for the API pages (build/format-cache/). Each must give exactly
what the tool would have given without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as etree

import markdown
import pytest
from mkdocstrings_handlers.python._internal import rendering
from pymdownx.highlight import Highlight
from sitebuild import ROOT, hooks, make_site

PYTHON = "def f(x: int) -> int:\n    return x + 1  # one\n"


@pytest.fixture
def highlight_memo(monkeypatch):
    """The memo installed on ``Highlight`` for this test only; yields the unmemoised method."""
    original = Highlight.highlight
    monkeypatch.setattr(Highlight, "highlight", original)
    hooks._install_highlight_memo()
    assert Highlight.highlight is not original
    return original


def test_highlight_memo_returns_what_pygments_returns(highlight_memo):
    md = markdown.Markdown()
    plain = Highlight(md)
    numbered = Highlight(md, linenums=True, anchor_linenums=True)
    for h in (plain, numbered):
        for count in (1, 2):
            for _ in range(2):  # the second call is answered from the memo
                got = h.highlight(PYTHON, "python", "highlight", code_block_count=count)
                want = highlight_memo(h, PYTHON, "python", "highlight", code_block_count=count)
                assert got == want
    # Settings and arguments are part of the key: line numbers, ids and languages differ.
    a = plain.highlight(PYTHON, "python", "highlight", code_block_count=1)
    b = numbered.highlight(PYTHON, "python", "highlight", code_block_count=1)
    c = numbered.highlight(PYTHON, "python", "highlight", code_block_count=2)
    d = plain.highlight(PYTHON, "text", "highlight", code_block_count=1)
    assert len({a, b, c, d}) == 4
    assert "__codelineno-1-1" in b and "__codelineno-2-1" in c


def test_inline_code_is_a_fresh_element_every_time(highlight_memo):
    h = Highlight(markdown.Markdown())
    first = h.highlight("x + 1", "python", inline=True)
    second = h.highlight("x + 1", "python", inline=True)
    assert isinstance(first, etree.Element) and first is not second
    assert etree.tostring(first) == etree.tostring(second)


@pytest.fixture
def format_store(tmp_path, monkeypatch):
    """An empty build/format-cache/ under tmp_path for ``_format_with_memo``."""
    monkeypatch.setitem(hooks._state, "build_dir", tmp_path)
    for key in ("format_store", "format_path", "format_used", "format_dirty"):
        monkeypatch.delitem(hooks._state, key, raising=False)
    return tmp_path


def _signature(*names: str) -> tuple[str, list[str]]:
    """A signature as mkdocstrings hands it to the formatter: references as random keys."""
    keys = [rendering.do_stash_crossref(name, length=len(name)) for name in names]
    args = ", ".join(f"arg{i}: {k}" for i, k in enumerate(keys))
    return f"def xxxxxxxxxxxxxxxx({args}) -> {keys[0]}: pass", keys


def _fake_ruff(calls: list[str]):
    def formatter(code: str, line_length: int) -> str:
        calls.append(code)
        return code.replace("(", "(\n    ").replace(", ", ",\n    ") + f"  # {line_length}\n"

    return formatter


def test_signature_formatting_is_remembered_across_placeholders_and_builds(format_store):
    calls: list[str] = []
    fake = _fake_ruff(calls)
    try:
        code, keys = _signature("Tensor", "int", "SegmentationMetric")
        assert hooks._format_with_memo(fake, code, 60) == _fake_ruff([])(code, 60)
        assert len(calls) == 1

        # The next build draws other random keys for the same references: no new call, and
        # the answer carries the new keys.
        again, new_keys = _signature("Tensor", "int", "SegmentationMetric")
        assert set(new_keys).isdisjoint(keys)
        assert hooks._format_with_memo(fake, again, 60) == _fake_ruff([])(again, 60)
        assert len(calls) == 1
        # Another line length is another answer.
        hooks._format_with_memo(fake, again, 88)
        assert len(calls) == 2

        # A new process reads what this one wrote.
        hooks._save_format_store()
        stored = list((format_store / "format-cache").glob("*/signatures.json"))
        assert len(stored) == 1 and len(json.loads(stored[0].read_text("utf-8"))) == 2
        del hooks._state["format_store"]
        third, _ = _signature("Tensor", "int", "SegmentationMetric")
        assert hooks._format_with_memo(fake, third, 60) == _fake_ruff([])(third, 60)
        assert len(calls) == 2
    finally:
        rendering.do_stash_crossref.stash.clear()


def test_code_that_already_holds_a_numbered_key_is_formatted_directly(format_store):
    calls: list[str] = []
    code, keys = _signature("Tensor")
    clash = code.replace("-> ", "-> _00000 | ")  # "_00000" is the first numbered key of 6
    try:
        assert len(keys[0]) == 6
        hooks._format_with_memo(_fake_ruff(calls), clash, 60)
        hooks._format_with_memo(_fake_ruff(calls), clash, 60)
        assert calls == [clash, clash]
    finally:
        rendering.do_stash_crossref.stash.clear()


COUNT_AND_BUILD = """
import json, subprocess, sys
from pathlib import Path
import jinja2
from mkdocs.commands.build import build
from mkdocs.config import load_config

config_file, site, out = sys.argv[1:4]
counts = {"ruff": 0, "compiled_files": []}
run = subprocess.run
def counted_run(args, *a, **k):
    counts["ruff"] += any("ruff" in str(x) for x in args[:1])
    return run(args, *a, **k)
subprocess.run = counted_run
compile_ = jinja2.Environment.compile
def counted_compile(self, source, name=None, filename=None, *a, **k):
    if filename is not None:
        counts["compiled_files"].append(Path(filename).as_posix())
    return compile_(self, source, name, filename, *a, **k)
jinja2.Environment.compile = counted_compile
build(load_config(config_file, site_dir=site))
pages = {p.relative_to(site).as_posix(): p.read_text("utf-8") for p in Path(site).rglob("*.html")}
Path(out).write_text(json.dumps({"counts": counts, "pages": pages}), "utf-8")
"""

API_BLOCK = "\n## API\n\n::: knowledge.metrics.confusion_matrix\n"


def _add_api_block(docs):
    for lang in ("zh", "en"):
        page = docs / f"page.{lang}.md"
        page.write_text(page.read_text("utf-8") + API_BLOCK, "utf-8")


def test_a_warm_build_formats_and_compiles_nothing_and_writes_the_same_site(tmp_path):
    config = make_site(tmp_path, _add_api_block)
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONHASHSEED="0", MPLBACKEND="Agg")
    env["KNOWLEDGE_MANIFEST"] = str(tmp_path / "manifest.json")
    results = []
    for n in (1, 2):  # two processes: nothing is shared but build/ under tmp_path
        out = tmp_path / f"out{n}.json"
        proc = subprocess.run(
            [sys.executable, "-c", COUNT_AND_BUILD, str(config), str(tmp_path / "site"), str(out)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-4000:]
        results.append(json.loads(out.read_text("utf-8")))
    cold, warm = results
    # confusion_matrix's signature is longer than the line: Ruff formats it, once.
    assert cold["counts"]["ruff"] >= 1 and len(cold["counts"]["compiled_files"]) >= 20
    assert warm["counts"]["ruff"] == 0
    # All but Material's language partials, which its own plugin loads through an
    # environment of its own, come from build/jinja-cache/.
    assert [f for f in warm["counts"]["compiled_files"] if "/partials/language" not in f] == []
    assert (tmp_path / "build" / "jinja-cache").is_dir()
    assert warm["pages"] == cold["pages"]
    page = cold["pages"]["en/page/index.html"]
    assert 'id="knowledge.metrics.confusion_matrix"' in page and "ignore_index" in page
