"""The offline bundle (``nox -s offline``) opened from ``file://`` in headless Chromium.

No server is involved: every page is a file, every link must name an ``.html`` file, the
search index comes from ``search/search_index.js`` of the page's own language, and the
search worker runs through the local iframe-worker polyfill. ``nox -s e2e`` builds the bundle
into ``build/e2e-offline``; set ``$KNOWLEDGE_E2E_OFFLINE`` to check another one.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
OFFLINE = Path(os.environ.get("KNOWLEDGE_E2E_OFFLINE", ROOT / "build" / "e2e-offline")).resolve()
HREF_RE = re.compile(r'<(?:a|link)\b[^>]*?\bhref="([^"]*)"')
SRC_RE = re.compile(r'<(?:script|img)\b[^>]*?\bsrc="([^"]*)"')


@pytest.fixture(scope="module")
def bundle() -> Path:
    if not (OFFLINE / "index.html").is_file():
        pytest.fail(f"no offline bundle at {OFFLINE}: run `nox -s e2e` (or `nox -s offline`)")
    return OFFLINE


def _pages(bundle: Path) -> list[Path]:
    skip = ("assets/", "search/", "downloads/")
    files = sorted(bundle.rglob("*.html"))
    return [p for p in files if not p.relative_to(bundle).as_posix().startswith(skip)]


def test_every_internal_link_and_asset_names_a_file(bundle):
    """file:// has no directory index: a link to ``page/`` would open a folder listing."""
    problems, count = [], 0
    for page in _pages(bundle):
        text = page.read_text("utf-8")
        for ref in HREF_RE.findall(text) + SRC_RE.findall(text):
            ref = html.unescape(ref)
            parts = urlsplit(ref)
            if parts.scheme or ref.startswith(("#", "//")) or not parts.path:
                continue
            count += 1
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.is_file():
                problems.append(f"{page.relative_to(bundle)}: {ref}")
    assert count > 1000
    assert not problems, "\n".join(problems[:20])


def test_each_language_has_its_search_index_as_a_script(bundle):
    """``search_index.js`` carries exactly its language's ``search_index.json``."""
    for root in (bundle, bundle / "en"):
        script = (root / "search" / "search_index.js").read_text("utf-8")
        prefix = "var __index = "
        assert script.startswith(prefix)
        data = json.loads(script[len(prefix) :])
        assert data == json.loads((root / "search" / "search_index.json").read_text("utf-8"))
        locations = [doc["location"] for doc in data["docs"]]
        assert len(locations) > 100 and not [loc for loc in locations if loc.startswith("en/")]
        titles = {doc["title"] for doc in data["docs"]}
        titles = {title.replace("\u200b", "") for title in titles}  # jieba's word breaks
        assert ("语义分割指标" in titles) == (root == bundle)
        assert ("Segmentation metrics" in titles) == (root != bundle)


@pytest.fixture
def file_tab(open_page, bundle):
    """``file_tab(path)``: a recorded, settled tab on ``file://<bundle>/<path>``."""
    return lambda path: open_page((bundle / path).as_uri())


def _no_network(tab) -> None:
    remote = [u for u in tab.recorder.requests if not u.startswith(("file:", "data:", "blob:"))]
    assert not remote, remote
    assert not tab.recorder.errors, "\n".join(tab.recorder.errors)


@pytest.mark.parametrize("path", ["index.html", "metrics/segmentation.html", "en/index.html"])
def test_pages_render_from_files_with_math_and_no_network(file_tab, path):
    tab = file_tab(path)
    page = tab.page
    assert page.locator("article h1").count() == 1
    if "segmentation" in path:
        assert page.locator(".katex").count() > 10  # KaTeX rendered from the bundle
    _no_network(tab)


def test_navigation_follows_links_between_files(file_tab, bundle):
    tab = file_tab("index.html")
    page = tab.page
    link = page.locator("article a[href$='metrics/segmentation.html']").first
    with page.expect_navigation(wait_until="load"):
        link.click()
    assert page.url == (bundle / "metrics" / "segmentation.html").as_uri()
    assert "语义分割指标" in page.locator("article h1").inner_text()
    _no_network(tab)


@pytest.mark.parametrize(
    ("path", "lang", "lands"),
    [
        ("training/warmup.html", "en", "en/training/warmup.html"),
        ("en/training/warmup.html", "zh", "training/warmup.html"),
    ],
)
def test_language_switch_lands_on_the_counterpart_file(
    file_tab, switch_to, bundle, path, lang, lands
):
    tab = file_tab(path)
    assert switch_to(tab.page, lang) == (bundle / lands).as_uri()


@pytest.mark.parametrize(
    ("query", "root", "expected"),
    [
        ("交并比", "", "metrics/segmentation.html"),
        ("预热", "", "training/warmup.html"),
        ("warmup", "en/", "training/warmup.html"),
        ("receptive field", "en/", "blocks/receptive_field.html"),
    ],
    ids=["zh-iou", "zh-warmup", "en-warmup", "en-receptive-field"],
)
def test_search_works_offline_in_each_language(file_tab, search_for, bundle, query, root, expected):
    tab = file_tab(f"{root}training/iter_epoch.html")
    page = tab.page
    hrefs = search_for(page, query)
    found = [Path(unquote(urlsplit(h).path)).relative_to(bundle).as_posix() for h in hrefs]
    found = list(dict.fromkeys(found))
    assert root + expected in found[:3], found[:5]
    assert all(p.startswith("en/") == (root == "en/") for p in found), found
    scripts = {u for u in tab.recorder.requests if u.endswith("search_index.js")}
    assert scripts == {(bundle / root / "search" / "search_index.js").as_uri()}
    _no_network(tab)
