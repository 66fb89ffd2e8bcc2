"""Fixtures for the real-browser tests: the built site, a local server and one headless Chromium.

``nox -s e2e`` builds the site strictly into ``build/e2e-site`` and points
``$KNOWLEDGE_E2E_SITE`` at it; any built site works (``KNOWLEDGE_E2E_SITE=/tmp/site pytest
e2e``). The site is served by ``http.server`` on 127.0.0.1 at a free port. Chromium is
Debian's (``/usr/bin/chromium``, or ``$KNOWLEDGE_CHROMIUM``), driven by Playwright; Playwright's
own browser download is never used.

Every page is loaded once (``visit``), in one reused tab; the per-page tests all read that
visit's record. The visit also runs axe-core on the pages of ``AXE_SAMPLE`` and, last, clicks
the language menu. Material's search index (1.5 MB, indexed anew on every page load) is served
to those visits without its documents; the search tests load the real one.
"""

from __future__ import annotations

import faulthandler
import functools
import gzip
import html
import importlib.util
import json
import os
import re
import signal
import statistics
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("KNOWLEDGE_E2E_SITE", ROOT / "build" / "e2e-site"))
SCREENSHOTS = ROOT / "build" / "screenshots"

_spec = importlib.util.spec_from_file_location(
    "knowledge_e2e_vendor", Path(__file__).with_name("vendor.py")
)
vendor = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vendor)

#: How long a page may take to finish its client-side work (math, code buttons, diagrams).
SETTLE_MS = 15_000

#: Evaluated in a loaded page: true once KaTeX, Material's code blocks and mermaid are done.
SETTLED_JS = (Path(__file__).with_name("settled.js")).read_text(encoding="utf-8")
#: Evaluated in a settled page: what the per-page tests check.
COLLECT_JS = (Path(__file__).with_name("collect.js")).read_text(encoding="utf-8")

#: Pages that axe-core checks, in both languages: home, maths and code, plots and a wide
#: formula, a mermaid diagram, an API page (mkdocstrings), tables.
AXE_SAMPLE = [
    "",
    "metrics/segmentation/",
    "training/warmup/",
    "papers/fpn/",
    "api/metrics/",
    "glossary/",
]
AXE_PAGES = [p for s in AXE_SAMPLE for p in (s, f"en/{s}")]
#: Runs axe-core (already injected) on the page; the violations, summarised.
AXE_RUN_JS = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')),
  }));
}"""


def page_lang(path: str) -> str:
    """The language of a site path: English under en/, Chinese everywhere else."""
    return "en" if path.startswith("en/") else "zh"


def counterparts(path: str) -> list[str]:
    """Where the language switch of ``path`` may land: the same page in the other language.

    A 404 page has no counterpart: its switch may go to the other language's home or 404 page.
    """
    other = path.removeprefix("en/") if page_lang(path) == "en" else f"en/{path}"
    if path.endswith("404.html"):
        home = other.removesuffix("404.html")
        return [home, other]
    return [other]


def site_pages(site: Path = SITE) -> list[str]:
    """Every HTML page of the site as a URL path relative to the root ("" is the home page)."""
    pages = []
    for file in sorted(site.rglob("*.html")):
        rel = file.relative_to(site).as_posix()
        if rel.startswith(("assets/", "search/", "downloads/")):
            continue
        pages.append(rel.removesuffix("index.html"))
    return pages


def pytest_configure(config):
    if not (SITE / "index.html").is_file():
        raise pytest.UsageError(
            f"no built site at {SITE}: run `nox -s e2e`, or build one and set KNOWLEDGE_E2E_SITE"
        )


def pytest_generate_tests(metafunc):
    if "page" in metafunc.fixturenames:
        pages = site_pages()
        metafunc.parametrize("page", pages, ids=[f"/{p}" for p in pages])
    if "axe_page" in metafunc.fixturenames:
        metafunc.parametrize("axe_page", AXE_PAGES, ids=[f"/{p}" for p in AXE_PAGES])


#: A test that runs longer than this has a browser that stopped answering.
TEST_LIMIT_S = 180


@pytest.fixture(autouse=True)
def _hang_guard(request):
    """Fail a test whose browser stops answering, with the stacks, instead of stalling CI.

    Playwright's calls time out only while Chromium answers; once (in ~10 runs) an offline
    test waited for ever with every process idle. The alarm interrupts that wait.
    """

    def expired(signum, frame):
        faulthandler.dump_traceback(all_threads=True)
        raise TimeoutError(f"{request.node.nodeid}: still running after {TEST_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- server
class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def server():
    """Base URL (with a trailing slash) of the built site, served on 127.0.0.1."""
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


# --------------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run (Debian's binary, not Playwright's)."""
    from playwright.sync_api import sync_playwright

    executable = vendor.chromium_path()
    if not executable:
        pytest.fail(
            "no Chromium found: `apt-get install -y chromium fonts-noto-cjk` "
            "(nox -s e2e does it) or set KNOWLEDGE_CHROMIUM"
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=vendor.CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, service_workers="block")
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@dataclass
class Visit:
    """What one load of a page showed."""

    path: str
    status: int | None
    url: str
    data: dict
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    landed: dict[str, str | None] = field(default_factory=dict)  # language -> URL reached
    axe: list[dict] | None = None  # axe-core's violations, on the pages of AXE_PAGES

    @property
    def lang(self) -> str:
        return page_lang(self.path)

    @property
    def source(self) -> str:
        """The HTML file as built (before any script ran)."""
        rel = self.path + "index.html" if self.path.endswith("/") or not self.path else self.path
        return (SITE / rel).read_text(encoding="utf-8")

    @property
    def other_lang(self) -> str:
        return "zh" if self.lang == "en" else "en"

    @property
    def counterparts(self) -> list[str]:
        return counterparts(self.path)


class Recorder:
    """Console errors and requests of one tab, recorded while ``on``.

    A failed request counts only if it started while recording: loads of the page before
    (cut short by the next navigation) report their failure late, into the next visit.
    """

    def __init__(self, page) -> None:
        self.on = False
        self.errors: list[str] = []
        self.requests: list[str] = []
        self._started: set = set()
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.on and self.errors.append(f"uncaught: {e}"))
        page.on("request", self._request)
        page.on("requestfailed", self._failed)

    def start(self) -> None:
        self.on, self.errors, self.requests, self._started = True, [], [], set()

    def _request(self, request) -> None:
        if self.on:
            self.requests.append(request.url)
            self._started.add(request)

    def _failed(self, request) -> None:
        if self.on and request in self._started:
            self.errors.append(f"{request.failure}: {request.url}")

    def _console(self, msg) -> None:
        if self.on and msg.type == "error":
            where = (msg.location or {}).get("url")
            self.errors.append(f"{msg.text} ({where})" if where else msg.text)


@functools.cache
def _search_config(index: Path) -> str:
    """A search index with the real index's configuration and no documents (JSON)."""
    return json.dumps({"config": json.loads(index.read_text("utf-8"))["config"], "docs": []})


def _serve_light_search_index(route) -> None:
    """Answer a page's request for its search index with the index, less its documents.

    Material fetches the index (1.5 MB) on every page load and builds a lunr index from it in
    a worker: about a third of the time of a visit, for nothing that the per-page checks look
    at. The page still asks for its index (the request is recorded and checked), gets a 404
    where the file is missing, and the search tests use the real index.
    """
    file = SITE / unquote(urlsplit(route.request.url).path).lstrip("/")
    if file.is_file():
        route.fulfill(status=200, content_type="application/json", body=_search_config(file))
    else:
        route.fulfill(status=404, body="File not found")


def load(page, url: str):
    """Go to ``url`` and wait until the page's client-side rendering has settled."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    response = page.goto(url, wait_until="load")
    try:
        page.wait_for_function(SETTLED_JS, timeout=SETTLE_MS)
    except PlaywrightTimeout:
        pass  # the tests report what did not render
    return response


#: Material's search box says this (per language) once its worker has built the index.
SEARCH_READY = ("键入以开始搜索", "Type to start searching")


def run_search(page, query: str) -> list[str]:
    """Type ``query`` into the search box once the index is ready; the results' hrefs.

    Material runs a query on ``keyup``; ``fill`` (which also stands in for an input method
    committing Chinese text) sends only ``input``, so a ``keyup`` follows it. Before the index
    is ready, Material reads the box when it becomes ready: waiting first removes that race.
    """
    box = page.locator("input.md-search__input")
    box.click()
    page.wait_for_function(
        "ready => ready.includes("
        "(document.querySelector('.md-search-result__meta') || {}).textContent?.trim())",
        arg=list(SEARCH_READY),
        timeout=30_000,
    )
    box.fill(query)
    box.dispatch_event("keyup")
    page.wait_for_selector(".md-search-result__item", timeout=20_000)
    return page.eval_on_selector_all(
        ".md-search-result__item a[href]", "els => els.map(e => e.href)"
    )


@pytest.fixture(scope="session")
def search_for():
    """``search_for(page, query)``: see ``run_search``."""
    return run_search


def switch_language(page, lang: str) -> str | None:
    """Choose ``lang`` in the header's language menu; return the URL that the tab lands on."""
    from playwright.sync_api import Error as PlaywrightError

    link = page.locator(f".md-header .md-select__link[hreflang='{lang}']")
    if link.count() != 1:
        return None
    try:
        with page.expect_navigation(wait_until="commit", timeout=10_000):
            link.evaluate("a => a.click()")  # the menu opens on hover; a click event is the same
    except PlaywrightError as exc:  # no navigation: reported by the test, not raised here
        return f"nowhere ({exc.message.splitlines()[0]})"
    return page.url


@pytest.fixture(scope="session")
def switch_to():
    """``switch_to(page, lang)``: see ``switch_language``."""
    return switch_language


@pytest.fixture(scope="session")
def visit(context, server):
    """``visit(path)``: load a page once (cached, in one reused tab) and return its Visit."""
    cache: dict[str, Visit] = {}
    page = context.new_page()
    recorder = Recorder(page)
    page.route("**/search/search_index.json", _serve_light_search_index)

    def get(path: str) -> Visit:
        if path in cache:
            return cache[path]
        recorder.start()
        response = load(page, server + path)
        data = page.evaluate(COLLECT_JS)
        url = page.url
        recorder.on = False  # what follows (axe, the language switch) is not the page's own
        axe = None
        if path in AXE_PAGES and vendor.vendor_ready():
            page.add_script_tag(path=str(vendor.AXE_JS))
            axe = page.evaluate(AXE_RUN_JS)
        other = "zh" if page_lang(path) == "en" else "en"
        landed = {other: switch_language(page, other)}
        page.goto("about:blank")  # nothing of this page may leak into the next visit
        cache[path] = Visit(
            path=path,
            status=response.status if response else None,
            url=url,
            data=data,
            console_errors=recorder.errors,
            requests=recorder.requests,
            landed=landed,
            axe=axe,
        )
        return cache[path]

    yield get
    page.close()


@dataclass
class Tab:
    page: Any
    recorder: Recorder


@pytest.fixture
def open_page(context, server):
    """``open_page(path)``: a new recorded tab on a settled page, closed after the test.

    ``path`` is relative to the served site, or a whole URL (``file://`` for the offline
    bundle, where there is no HTTP status to check).
    """
    tabs: list[Tab] = []

    def open_(path: str) -> Tab:
        page = context.new_page()
        tab = Tab(page, Recorder(page))
        tabs.append(tab)
        tab.recorder.start()
        url = path if "://" in path else server + path
        response = load(page, url)
        if not url.startswith("file:"):
            assert response is not None and response.status == 200, (path, response)
        return tab

    yield open_
    for tab in tabs:
        tab.page.close()


# --------------------------------------------------------------------------- links
class LinkChecker:
    """HTTP status and element ids of site URLs, each fetched once."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._cache: dict[str, tuple[int, set[str]]] = {}
        self._lock = threading.Lock()

    def fetch(self, url: str) -> tuple[int, set[str]]:
        with self._lock:
            if url not in self._cache:
                self._cache[url] = self._get(url)
            return self._cache[url]

    @staticmethod
    def _get(url: str) -> tuple[int, set[str]]:
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                body = resp.read()
                status = resp.status
                is_html = resp.headers.get_content_type() == "text/html"
        except urllib.error.HTTPError as exc:
            return exc.code, set()
        ids: set[str] = set()
        if is_html:
            text = body.decode("utf-8", "replace")
            ids = {html.unescape(m) for m in re.findall(r'\s(?:id|name)="([^"]+)"', text)}
        return status, ids

    def internal(self, urls: list[str]) -> list[str]:
        """The URLs that point into the site (same host, http), without duplicates."""
        host = urlsplit(self.base).netloc
        return sorted(
            {
                u
                for u in urls
                if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc == host
            }
        )

    def problem(self, link: str) -> str | None:
        """Why ``link`` (an absolute site URL) is broken, or None when it is fine."""
        url, fragment = urldefrag(link)
        status, ids = self.fetch(url)
        if status != 200:
            return f"HTTP {status}"
        if fragment and unquote(fragment) not in ids:
            return f"no element with id {unquote(fragment)!r}"
        return None


@pytest.fixture(scope="session")
def links(server) -> LinkChecker:
    return LinkChecker(server)


@pytest.fixture(scope="session")
def axe_js() -> Path:
    """axe-core's browser bundle, installed by ``python e2e/vendor.py`` (nox -s e2e)."""
    if not vendor.vendor_ready():
        pytest.fail(f"axe-core is not installed in {vendor.VENDOR}: run `python e2e/vendor.py`")
    return vendor.AXE_JS


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


# --------------------------------------------------------------------------- page weight
#: What a page weighs: its HTML and the styles, scripts and fonts it made the browser fetch.
WEIGHED = (".html", ".css", ".js", ".woff2", ".woff", ".ttf")
PAGE_WEIGHT_JSON = ROOT / "build" / "pageweight-browser.json"


@pytest.fixture(scope="session")
def page_weights(visit, server) -> dict[str, dict[str, int]]:
    """Raw and gzip bytes that each page loaded in the browser (written to build/).

    Every page's visit is reused; the files are read from the built site and gzipped at level
    9, as a server would send them. Images, plots and the search index are not counted. Fonts
    count only when the page's text used them, as the browser decides.
    """
    weights: dict[str, dict[str, int]] = {}
    for path in site_pages():
        v = visit(path)
        raw = packed = 0
        for url in dict.fromkeys([server + path, *v.requests]):
            if not url.startswith(server):
                continue
            rel = unquote(urlsplit(url).path).lstrip("/")
            file = SITE / (rel + "index.html" if rel.endswith("/") or not rel else rel)
            if file.suffix in WEIGHED and file.is_file():
                data = file.read_bytes()
                if file.suffix == ".html":  # inline SVG plots are images
                    data = re.sub(rb'<svg role="img".*?</svg>', b"", data, flags=re.S)
                raw += len(data)
                packed += len(gzip.compress(data, compresslevel=9, mtime=0))
        weights[path] = {"raw": raw, "gzip": packed}
    gz = [w["gzip"] for w in weights.values()]
    summary = {"median_gzip": statistics.median(gz), "max_gzip": max(gz), "pages": weights}
    PAGE_WEIGHT_JSON.parent.mkdir(parents=True, exist_ok=True)
    PAGE_WEIGHT_JSON.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return weights
