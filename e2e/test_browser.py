"""The built site in a real browser (headless Chromium): what static checks of the HTML miss.

Each page of both languages is loaded once and checked for: HTTP 200, no console error, the
search index of its own language, no request to another host, images that load, internal
links and anchors that resolve, math rendered by KaTeX (no TeX left as text), a copy button
on every code block, diagrams drawn, and a language switch that lands on the same page in
the other language; axe-core checks a sample of them. Then: search in each language with the
real index, screenshots, CJK fonts, and the bytes each page loads.
"""

from __future__ import annotations

import statistics
from urllib.parse import urlsplit

import pytest


# ----------------------------------------------------------------------------- every page
def test_page_loads(visit, server, page):
    v = visit(page)
    assert v.status == 200
    assert v.url == server + page, "the page redirected"
    assert v.data["lang"] == v.lang, f'<html lang="{v.data["lang"]}"> on a {v.lang} page'


def test_no_console_errors(visit, page):
    errors = visit(page).console_errors
    assert not errors, "\n".join(errors)


def test_page_fetches_the_search_index_of_its_language(visit, server, page):
    v = visit(page)
    indexes = [u for u in v.requests if u.endswith("/search_index.json")]
    root = "en/" if v.lang == "en" else ""
    assert indexes == [f"{server}{root}search/search_index.json"]


def test_no_request_leaves_the_site(visit, page):
    v = visit(page)
    foreign = [
        u
        for u in v.requests
        if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname != "127.0.0.1"
    ]
    assert not foreign, "\n".join(foreign)


def test_images_load(visit, page):
    broken = visit(page).data["brokenImages"]
    assert not broken, "\n".join(broken)


def test_links_and_anchors_resolve(visit, links, page):
    v = visit(page)
    broken = {u: links.problem(u) for u in links.internal(v.data["links"])}
    broken = [f"{u}: {why}" for u, why in broken.items() if why]
    assert not broken, "\n".join(broken)
    missing = v.data["missingAnchors"]
    assert not missing, "same-page links to ids that do not exist: " + " ".join(missing)


def test_math_is_rendered(visit, page):
    v = visit(page)
    d = v.data
    assert d["arithmatex"] == v.source.count('class="arithmatex"'), "math lost on the way"
    assert not d["unrendered"], "math that KaTeX did not render:\n" + "\n".join(d["unrendered"])
    assert not d["katexErrors"], "KaTeX errors:\n" + "\n".join(d["katexErrors"])
    assert not d["rawTex"], "TeX left as plain text:\n" + "\n".join(d["rawTex"])


def test_code_blocks_have_a_copy_button(visit, page):
    missing = visit(page).data["withoutCopy"]
    assert not missing, "code blocks without a copy button, starting:\n" + "\n".join(missing)


def test_diagrams_are_drawn(visit, page):
    v = visit(page)
    d = v.data
    # Material drops the "mermaid" class of a diagram that it could not draw: count from the HTML.
    built = v.source.count('class="mermaid"')
    drawn = d["diagrams"] - d["unrenderedDiagrams"]
    assert drawn == built, f"{drawn} of {built} diagrams drawn"


def test_language_switch_lands_on_the_counterpart_page(visit, server, page):
    v = visit(page)
    landed = v.landed[v.other_lang]
    assert landed is not None, f"no {v.other_lang} link in the language menu"
    expected = [server + c for c in v.counterparts]
    assert landed in expected, f"landed on {landed}, expected {' or '.join(expected)}"


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("metrics/segmentation/", "arithmatex"),
        ("en/metrics/segmentation/", "katex"),
        ("en/metrics/segmentation/", "codeBlocks"),
        ("en/papers/fpn/", "diagrams"),
        ("", "links"),
    ],
)
def test_the_page_checks_see_what_they_check(visit, path, what):
    """Guards against checks that pass because a selector no longer matches anything."""
    assert visit(path).data[what], f"no {what} found on /{path}"


# ----------------------------------------------------------------------------- search
@pytest.mark.parametrize(
    ("query", "root", "expected"),
    [
        ("交并比", "", "metrics/segmentation/"),
        ("感受野", "", "blocks/receptive_field/"),
        ("预热", "", "training/warmup/"),
        ("warmup", "en/", "training/warmup/"),
        ("receptive field", "en/", "blocks/receptive_field/"),
    ],
    ids=["zh-iou", "zh-receptive-field", "zh-warmup", "en-warmup", "en-receptive-field"],
)
def test_search_finds_the_page_in_the_readers_language(
    open_page, search_for, server, query, root, expected
):
    tab = open_page(f"{root}training/iter_epoch/")
    page = tab.page
    hrefs = search_for(page, query)
    found = list(dict.fromkeys(urlsplit(h).path.removeprefix("/") for h in hrefs))
    assert root + expected in found[:3], found[:5]
    # English pages search the English index only, Chinese pages the Chinese one.
    assert all(p.startswith("en/") == (root == "en/") for p in found), found
    indexes = {u for u in tab.recorder.requests if u.endswith("search_index.json")}
    assert indexes == {f"{server}{root}search/search_index.json"}
    assert not tab.recorder.errors, "\n".join(tab.recorder.errors)


# ----------------------------------------------------------------------------- looks
def test_screenshots_of_home_and_chapter_pages(open_page, screenshots):
    for lang, root in (("zh", ""), ("en", "en/")):
        for name, path in (("home", ""), ("chapter", "metrics/segmentation/")):
            page = open_page(root + path).page
            out = screenshots / f"{lang}-{name}.png"
            page.screenshot(path=out, full_page=True)
            assert out.stat().st_size > 10_000, out


def test_chinese_text_is_drawn_with_a_cjk_font(open_page, context):
    """Without fonts-noto-cjk, Chromium draws every Chinese character as an empty box."""
    page = open_page("metrics/segmentation/").page
    found = page.evaluate(
        """() => {
          const el = [...document.querySelectorAll('.md-content p')]
            .find(p => /[\\u4e00-\\u9fff]/.test([...p.childNodes]
              .filter(n => n.nodeType === 3).map(n => n.textContent).join('')));
          if (el) el.setAttribute('data-e2e-cjk', '');
          return !!el;
        }"""
    )
    assert found, "no paragraph of Chinese text"
    cdp = context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "[data-e2e-cjk]"})
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
    cjk = [f for f in fonts if "CJK" in f["familyName"] and f["glyphCount"] > 0]
    assert cjk, fonts


# ----------------------------------------------------------------------------- accessibility
def test_no_serious_accessibility_violations(visit, axe_js, axe_page):
    """axe-core on a sample of pages (conftest.AXE_SAMPLE), in both languages."""
    violations = visit(axe_page).axe
    assert violations is not None, "axe-core did not run"
    serious = [
        f"{v['id']} ({v['impact']}, {v['count']} elements): {v['help']}; e.g. {v['nodes']}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, "\n".join(serious)


# ----------------------------------------------------------------------------- page weight
def test_median_page_loads_at_most_300_kb_gzip(page_weights):
    """HTML + CSS + JS + fonts that the browser fetched, gzip, images excluded (issue #7)."""
    gz = sorted(w["gzip"] for w in page_weights.values())
    assert len(gz) > 80
    assert statistics.median(gz) <= 300_000, f"median {statistics.median(gz):,.0f} B"
