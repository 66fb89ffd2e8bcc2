"""The real site, built once in strict mode: manifest, determinism, snippets, search, math."""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sitebuild import DOCS, ROOT, SNIPPETS, hooks


def pages(lang: str) -> list[str]:
    """Page stems (``metrics/segmentation``) that exist in ``lang``."""
    out = []
    for p in sorted(DOCS.rglob(f"*.{lang}.md")):
        rel = p.relative_to(DOCS).as_posix()
        if not rel.startswith("snippets/"):
            out.append(rel[: -len(f".{lang}.md")])
    return out


def page_text(stem: str, lang: str) -> str:
    return (DOCS / f"{stem}.{lang}.md").read_text(encoding="utf-8")


def expected_blocks() -> list[tuple[str, str, str]]:
    """(page, lang, snippet) for every executed fence of every page, from the Markdown."""
    out = []
    for lang in ("zh", "en"):
        for stem in pages(lang):
            for fence in hooks.executed_fences(page_text(stem, lang)):
                m = hooks.SNIPPET_LINE_RE.match(fence["body"].strip())
                assert m, f"{stem}.{lang}.md has an executed fence that is not one snippet line"
                out.append((f"{stem}.{lang}.md", lang, m[1]))
    return out


def html_pages(site: Path) -> dict[str, bytes]:
    return {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in sorted(site.rglob("*.html"))
        if "assets" not in p.parts
    }


# ----------------------------------------------------------------------------- manifest
def test_every_executed_block_ran_once_per_language_without_error(real_build):
    got = [(b["page"], b["lang"], b["snippet"]) for b in real_build.blocks]
    assert sorted(got) == sorted(expected_blocks())
    errors = [b for b in real_build.blocks if b["error"]]
    assert errors == []
    assert all(b["seconds"] >= 0 for b in real_build.blocks)


def test_zh_and_en_pages_show_identical_outputs(real_build):
    by_key: dict[tuple[str, str], dict[str, str]] = {}
    for b in real_build.blocks:
        stem = b["page"].rsplit(".", 2)[0]
        by_key.setdefault((stem, b["snippet"]), {})[b["lang"]] = b["output_sha256"]
    assert by_key, "no executed blocks recorded"
    for key, hashes in by_key.items():
        assert set(hashes) == {"zh", "en"}, key
        assert hashes["zh"] == hashes["en"], f"zh and en outputs differ for {key}"


def test_each_snippet_runs_once_per_build_and_the_other_language_reuses_it(real_build):
    """Outputs are identical across languages by construction; the code runs only once.

    That each snippet really is deterministic is checked elsewhere: two builds give the same
    HTML, and every snippet, rerun standalone in a fresh interpreter, prints the page's output.
    """
    runs: dict[str, list[dict]] = {}
    for b in real_build.blocks:
        runs.setdefault(b["snippet"], []).append(b)
    for snippet, rows in runs.items():
        ran = [r for r in rows if "reused_from" not in r]
        assert len(ran) == 1, (snippet, rows)
        for r in rows:
            if r is not ran[0]:
                assert r["reused_from"] == ran[0]["lang"] and r["seconds"] == 0.0, r
                assert r["output_sha256"] == ran[0]["output_sha256"], r


def test_two_builds_produce_identical_html(real_builds):
    a, b = (html_pages(x.site) for x in real_builds)
    assert a.keys() == b.keys()
    differ = [k for k in a if a[k] != b[k]]
    assert differ == []
    idx = "search/search_index.json"
    assert (real_builds[0].site / idx).read_bytes() == (real_builds[1].site / idx).read_bytes()


def test_both_languages_are_built(real_build):
    for stem in pages("zh"):
        rel = "" if stem == "index" else f"{stem.removesuffix('/index')}/"
        assert (real_build.site / rel / "index.html").is_file(), stem
        assert (real_build.site / "en" / rel / "index.html").is_file(), stem
    zh = (real_build.site / "index.html").read_text(encoding="utf-8")
    en = (real_build.site / "en" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="zh"' in zh
    assert '<html lang="en"' in en


def test_language_switcher_lands_on_the_counterpart_page(real_build):
    page = (real_build.site / "metrics" / "segmentation" / "index.html").read_text("utf-8")
    links = re.findall(r'<a href="([^"]+)" hreflang="en"', page)
    assert links, "no English link in the language switcher"
    target = (real_build.site / "metrics" / "segmentation" / links[0]).resolve()
    expected = (real_build.site / "en" / "metrics" / "segmentation").resolve()
    assert target in (expected, expected / "index.html")


# ----------------------------------------------------------------------------- snippets
def _snippet_files() -> list[Path]:
    return sorted(SNIPPETS.rglob("*.py"))


def test_every_snippet_is_included_by_a_page():
    included = {s for _, _, s in expected_blocks()}
    for p in _snippet_files():
        assert p.relative_to(SNIPPETS).as_posix() in included, f"{p} is included by no page"


SNIPPET_NAMES = [p.relative_to(SNIPPETS).as_posix() for p in _snippet_files()]


def _run_scripts(
    scripts: dict[str, Path], threads: int, cwd: Path, timeout: float
) -> dict[str, subprocess.CompletedProcess]:
    """Run each script as ``python <file>`` in a fresh interpreter in ``cwd``, two at a time,
    with the build's thread count and ``knowledge`` importable from this checkout."""
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = str(ROOT)

    def run(script: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(script)], cwd=cwd, env=env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(scripts, pool.map(run, scripts.values()), strict=True))


@pytest.fixture(scope="module")
def standalone_runs(real_build, tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every snippet run as ``python <file>`` in a fresh interpreter, two at a time."""
    scripts = {name: SNIPPETS / name for name in SNIPPET_NAMES}
    cwd = tmp_path_factory.mktemp("standalone")
    return _run_scripts(scripts, real_build.manifest["threads"], cwd, timeout=300)


@pytest.mark.parametrize("snippet", SNIPPET_NAMES, ids=str)
def test_snippet_runs_standalone_and_prints_what_its_page_shows(
    snippet, real_build, standalone_runs
):
    """The copy-and-run promise: a fresh interpreter prints exactly the page's output."""
    proc = standalone_runs[snippet]
    assert proc.returncode == 0, proc.stderr[-3000:]
    shown = {b["output_sha256"] for b in real_build.blocks if b["snippet"] == snippet}
    assert len(shown) == 1
    assert hashlib.sha256(proc.stdout.encode()).hexdigest() == shown.pop()


# ----------------------------------------------------------------------------- downloads
def _page_snippets(stem: str) -> list[str]:
    return hooks.page_snippets(page_text(stem, "zh"))


EXEC_PAGES = [stem for stem in pages("zh") if _page_snippets(stem)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_block_links_its_snippet_file_for_download(real_build, lang):
    site = real_build.site
    for stem in EXEC_PAGES:
        page_dir = (site if lang == "zh" else site / "en") / stem
        text = (page_dir / "index.html").read_text("utf-8")
        links = re.findall(r'<a class="kn-download" download="([^"]+)" href="([^"]+)"', text)
        snippets = _page_snippets(stem)
        assert len(links) == len(snippets) + 1, stem  # one per block, one for the page
        for (name, href), rel in zip(links, snippets, strict=False):
            served = (page_dir / href).resolve()
            assert name == Path(rel).name
            assert served.read_text("utf-8") == (SNIPPETS / rel).read_text("utf-8"), (stem, rel)
        name, href = links[-1]
        script = (page_dir / href).resolve()
        assert name == f"{Path(stem).name}.py" and script.is_file(), stem


@pytest.fixture(scope="module")
def page_script_runs(real_build, tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Each page's one-file download, run as ``python <page>.py``, two at a time."""
    scripts = {stem: real_build.site / "downloads" / f"{stem}.py" for stem in EXEC_PAGES}
    cwd = tmp_path_factory.mktemp("page-scripts")
    return _run_scripts(scripts, real_build.manifest["threads"], cwd, timeout=600)


@pytest.mark.parametrize("stem", EXEC_PAGES, ids=str)
def test_page_script_prints_what_the_page_shows(stem, standalone_runs, page_script_runs):
    """The whole page as one script prints every block's output, in page order."""
    proc = page_script_runs[stem]
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = "".join(standalone_runs[rel].stdout for rel in _page_snippets(stem))
    assert proc.stdout == expected


# ----------------------------------------------------------------------------- footer, 404
def test_footer_names_version_torch_and_commit(real_build):
    import torch

    from knowledge import __version__

    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    for rel, data in html_pages(real_build.site).items():
        text = data.decode("utf-8")
        footer = re.search(r'<div class="md-copyright__highlight">(.*?)</div>', text, re.S)
        assert footer, rel
        words = footer[1]
        assert __version__ in words and torch.__version__ in words, (rel, words)
        assert f"<code>{commit}" in words, (rel, words)
        assert ("构建" in words) == (not rel.startswith("en/")), (rel, words)


def test_each_language_has_its_own_404_page(real_build):
    zh = (real_build.site / "404.html").read_text("utf-8")
    en = (real_build.site / "en" / "404.html").read_text("utf-8")
    assert '<html lang="zh"' in zh and "页面不存在" in zh
    assert '<html lang="en"' in en and "page not found" in en
    # GitHub Pages answers every missing URL with the root 404.html: it forwards /en/...
    assert "en/404.html" in zh
    # ... and the language menu of each 404 page leads to the two home pages
    for page in (zh, en):
        menu = r'<a href="([^"]*)" hreflang="(zh|en)" class="md-select__link"'
        links = dict(re.findall(menu, page))
        assert sorted(links.values()) == ["en", "zh"]
        assert {v: k for k, v in links.items()} == {"zh": "/", "en": "/en/"}


def test_sitemap_lists_every_page_in_both_languages_with_commit_dates(real_build):
    sitemap = (real_build.site / "sitemap.xml").read_text("utf-8")
    locs = set(re.findall(r"<loc>([^<]+)</loc>", sitemap))
    alternates = set(re.findall(r'hreflang="en" href="([^"]+)"', sitemap))
    for stem in pages("zh"):
        path = "" if stem == "index" else f"{stem}/"
        assert any(loc.endswith("/" + path) for loc in locs), stem
        assert any(a.endswith(f"/en/{path}") for a in alternates), stem
    stamp = subprocess.run(
        ["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    commit_day = datetime.fromtimestamp(int(stamp), tz=timezone.utc).strftime("%Y-%m-%d")
    assert set(re.findall(r"<lastmod>([^<]+)</lastmod>", sitemap)) == {commit_day}


def test_every_plot_has_a_text_alternative(real_build):
    count = 0
    for rel, data in html_pages(real_build.site).items():
        for svg in re.findall(rb'<svg role="img"[^>]*>\s*<title>([^<]*)</title>', data):
            assert svg.strip(), rel
            count += 1
        assert data.count(b'<svg role="img"') == len(
            re.findall(rb'<svg role="img"[^>]*aria-label="[^"]+"[^>]*>\s*<title>[^<]+', data)
        ), rel
    assert count > 20  # the plots of every chapter


def test_search_skips_plots_and_api_source_that_the_pages_still_show(real_build):
    """The hook hides plots and API source listings from the search plugin, then restores them."""
    site = real_build.site
    pages_ = html_pages(site)
    assert not [rel for rel, data in pages_.items() if b"kn-unsearched" in data]
    for root, lang in ((site, "zh"), (site / "en", "en")):
        api = (root / "api" / "metrics" / "index.html").read_text("utf-8")
        source = html.unescape(re.sub(r"<[^>]+>", "", api))
        assert 'class="mkdocstrings-source"' in api and "def confusion_matrix(" in source, lang
        plots = (root / "training" / "warmup" / "index.html").read_text("utf-8")
        assert plots.count('<svg role="img"') >= 2, lang
        index = json.loads((root / "search" / "search_index.json").read_text("utf-8"))
        text = "\n".join(doc["text"] for doc in index["docs"])
        assert "def confusion_matrix(" not in text, lang  # API source is not indexed
        assert "<svg" not in text and "<path" not in text, lang
        assert "confusion_matrix" in text, lang  # the API entries themselves are


def _search_sections(content: str) -> list[tuple]:
    from material.plugins.search.plugin import Parser

    parser = Parser()
    parser.feed(content)
    parser.close()
    return [(s.id, "".join(s.title), "".join(s.text)) for s in parser.data]


@pytest.mark.parametrize("stem", ["metrics/segmentation", "api/metrics", "training/warmup"])
def test_search_reads_highlighted_code_as_its_bare_text_and_indexes_the_same(real_build, stem):
    """Code blocks reach the search plugin without their token spans: the same sections."""
    for lang, root in (("zh", real_build.site), ("en", real_build.site / "en")):
        page_html = (root / stem / "index.html").read_text("utf-8")
        content = page_html[page_html.index("<article") : page_html.index("</article>")]
        content = content[content.index(">") + 1 :]
        page = type("Page", (), {"content": content})()
        hooks._hide_from_search({}, page, None)
        seen = page.content
        hooks._put_back({}, page, None)
        assert page.content == content, (stem, lang)  # restored byte for byte
        assert "<pre" in content and seen.count("<span") < content.count("<span") / 4
        # What the plugin would index without the hook's simplification (plots and API source
        # set aside in both), section by section.
        unsimplified = hooks._UNSEARCHED.sub("", content)
        assert _search_sections(seen) == _search_sections(unsimplified), (stem, lang)


# ----------------------------------------------------------------------------- anchors
def test_chinese_headings_get_readable_anchors(real_build):
    bad = []
    for rel, data in html_pages(real_build.site).items():
        ids = re.findall(rb'<h[1-6] id="([^"]+)"', data)
        bad += [f"{rel}#{i.decode()}" for i in ids if re.fullmatch(rb"_\d+", i)]
    assert bad == []
    page = (real_build.site / "metrics" / "segmentation" / "index.html").read_text("utf-8")
    assert re.search(r'<h2 id="[^"]*[\u4e00-\u9fff][^"]*"', page), "no Chinese heading id"


# ----------------------------------------------------------------------------- math
def test_math_renders_without_network(real_build):
    site = real_build.site
    for rel in ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js"):
        assert (site / "assets" / "katex" / rel).is_file(), rel
    css = (site / "assets" / "katex" / "katex.min.css").read_text("utf-8")
    for font in set(re.findall(r"url\((fonts/[^)]+\.woff2)\)", css)):
        assert (site / "assets" / "katex" / font).is_file(), font
    for lang_root in (site, site / "en"):
        page = (lang_root / "metrics" / "segmentation" / "index.html").read_text("utf-8")
        assert 'class="arithmatex"' in page
        scripts = re.findall(r'<script src="([^"]+)"', page)
        assert any(s.endswith("assets/katex/katex.min.js") for s in scripts)
        assert not [s for s in scripts if s.startswith(("http:", "https:", "//"))], scripts
    api = (site / "en" / "api" / "metrics" / "index.html").read_text("utf-8")
    assert 'class="arithmatex"' in api, "docstring math is not rendered as math"


def test_only_pages_with_math_load_katex(real_build):
    loads = {}
    for rel, data in html_pages(real_build.site).items():
        text = data.decode("utf-8")
        tags = re.findall(r'"[^"]*assets/(katex/[^"]+|javascripts/katex-init\.js)"', text)
        loads[rel] = (bool(tags), 'class="arithmatex"' in text, len(tags))
    assert {has for has, _, _ in loads.values()} == {True, False}  # both kinds exist
    for rel, (has, math, count) in loads.items():
        assert has == math, rel
        assert count in (0, 4), (rel, count)  # the stylesheet and the three scripts, or none


# ----------------------------------------------------------------------------- API
def test_api_reference_labels_follow_the_page_language(real_build):
    zh = (real_build.site / "api" / "metrics" / "index.html").read_text("utf-8")
    en = (real_build.site / "en" / "api" / "metrics" / "index.html").read_text("utf-8")
    assert "参数" in zh and "返回" in zh
    assert "Parameters" in en and "Returns" in en
    assert "参数" not in en


def test_cross_references_resolve_to_the_same_language(real_build):
    for lang_root, prefix in ((real_build.site, ""), (real_build.site / "en", "en/")):
        page = (lang_root / "metrics" / "segmentation" / "index.html").read_text("utf-8")
        hrefs = re.findall(r'href="([^"]*api/metrics/#knowledge\.metrics[^"]*)"', page)
        assert hrefs, f"no API cross-reference on {prefix}metrics page"
        for h in hrefs:
            target = (lang_root / "metrics" / "segmentation" / h.split("#")[0]).resolve()
            assert target == (lang_root / "api" / "metrics").resolve(), h


# ----------------------------------------------------------------------------- search
def _search_docs(site: Path, lang: str) -> tuple[dict, list[dict]]:
    index = site / ("" if lang == "zh" else "en") / "search" / "search_index.json"
    data = json.loads(index.read_text("utf-8"))
    return data["config"], data["docs"]


def search(site: Path, query: str, lang: str) -> list[str]:
    """Rank pages for ``query`` as Material's lunr index does: split by the configured
    separator, each query term a prefix of some token (AND), title hits first.

    ``lang`` picks the index that the pages of that language load."""
    config, docs = _search_docs(site, lang)
    sep = re.compile(config["separator"])

    def tokens(s: str) -> list[str]:
        s = html.unescape(re.sub(r"<[^>]+>", " ", s)).lower()
        return [t for t in sep.split(s) if t]

    terms = tokens(query)
    scored = []
    for d in docs:
        title, text = tokens(d["title"]), tokens(d["text"])
        if all(any(t.startswith(q) for t in title + text) for q in terms):
            score = sum(10 * sum(t.startswith(q) for t in title) for q in terms)
            score += sum(sum(t.startswith(q) for t in text) for q in terms)
            scored.append((-score, d["location"]))
    return [loc for _, loc in sorted(scored)]


@pytest.mark.parametrize(
    ("query", "lang", "page"),
    [
        ("交并比", "zh", "metrics/segmentation/"),
        ("像素精度", "zh", "metrics/segmentation/"),
        ("混淆矩阵", "zh", "metrics/segmentation/"),
        ("感受野", "zh", "blocks/receptive_field/"),
        ("预热", "zh", "training/warmup/"),
        ("mean iou", "en", "metrics/segmentation/"),
        ("confusion matrix", "en", "metrics/segmentation/"),
        ("receptive field", "en", "blocks/receptive_field/"),
        ("warmup", "en", "training/warmup/"),
    ],
)
def test_search_finds_the_page(real_build, query, lang, page):
    hits = search(real_build.site, query, lang)
    assert hits, f"no hit for {query!r}"
    # Material lists results grouped by page, best page first
    by_page = list(dict.fromkeys(h.split("#")[0] for h in hits))
    assert page in by_page[:3], (query, by_page[:5])


def test_each_language_searches_its_own_index(real_build):
    """An English reader gets English results only, a Chinese reader Chinese ones."""
    site = real_build.site
    for lang in ("zh", "en"):
        _, docs = _search_docs(site, lang)
        root = site if lang == "zh" else site / "en"
        locations = {d["location"].split("#")[0] for d in docs}
        assert {f"{stem}/" for stem in pages(lang) if stem != "index"} <= locations
        for loc in locations:
            assert not loc.startswith("en/"), (lang, loc)
            assert (root / loc / "index.html").is_file() or loc == "", (lang, loc)
            page = (root / loc / "index.html").read_text("utf-8")
            assert f'<html lang="{lang}"' in page, (lang, loc)
    # An English page's `base` (from which Material fetches search/search_index.json) is /en/.
    page = site / "en" / "metrics" / "segmentation" / "index.html"
    base = re.search(r'"base": "([^"]+)"', page.read_text("utf-8"))[1]
    assert (page.parent / base / "search" / "search_index.json").resolve() == (
        site / "en" / "search" / "search_index.json"
    ).resolve()


def test_html_ids_are_unique_on_every_page(real_build):
    dupes = {}
    for rel, data in html_pages(real_build.site).items():
        counts = Counter(re.findall(rb'\sid="([^"]+)"', data))
        seen = {i for i, n in counts.items() if n > 1}
        if seen:
            dupes[rel] = sorted(x.decode() for x in seen)[:5]
    assert dupes == {}


def test_no_page_loads_anything_from_a_third_party_host(real_build):
    """KaTeX and mermaid come from the site itself; Material's CDN fallbacks never trigger."""
    for rel, data in html_pages(real_build.site).items():
        text = data.decode("utf-8")
        # What the browser fetches: scripts, images, iframes and stylesheet/icon/preload links
        # (canonical and hreflang links are metadata, not requests).
        srcs = re.findall(r'<(?:script|img|iframe)[^>]+src="([^"]+)"', text)
        for tag in re.findall(r"<link[^>]+>", text):
            rel = re.search(r'rel="([^"]+)"', tag)
            href = re.search(r'href="([^"]+)"', tag)
            if rel and href and rel[1] not in ("canonical", "alternate"):
                srcs.append(href[1])
        remote = [s for s in srcs if s.startswith(("http:", "https:", "//"))]
        assert remote == [], (rel, remote)
        if 'class="mermaid"' in text:
            assert "assets/mermaid/mermaid.min.js" in text, rel
        else:
            assert "mermaid.min.js" not in text, rel
    assert (real_build.site / "assets" / "mermaid" / "mermaid.min.js").is_file()
