"""Bytes per page of the built site: HTML + CSS + JS + fonts, raw and gzip.

For each HTML page, the weight is the page itself plus every stylesheet and script it
references (``<link rel="stylesheet">``, ``<script src>``) and the fonts those stylesheets
reference (the woff2 files: the format a current browser picks). A browser fetches a font
only when some text uses it; the only web fonts here are KaTeX's, so they count on pages
with math, all of them (an upper bound: one page's formulas use a few). Images are not counted;
inline SVG plots (``<svg role="img">``) are images too, so they are cut out of the HTML
before it is measured. Shared files count on every page that loads them, as on a first
visit with an empty cache: the conservative number.
"""

from __future__ import annotations

import gzip
import re
import statistics
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

_SCRIPT = re.compile(r'<script[^>]+src="([^"]+)"')
_LINK = re.compile(r"<link[^>]+>")
_FONT = re.compile(r"url\(([^)]+\.woff2)\)")
_PLOT = re.compile(rb'<svg role="img".*?</svg>', re.S)


@cache
def _sizes(data: bytes) -> tuple[int, int]:
    return len(data), len(gzip.compress(data, compresslevel=9, mtime=0))


def _local(page: Path, ref: str, site: Path) -> Path | None:
    parsed = urlparse(ref)
    if parsed.scheme or parsed.netloc:
        return None  # third-party: the site has none (tests/site checks that)
    path = (page.parent / parsed.path).resolve()
    return path if path.is_file() and site.resolve() in path.parents else None


@cache
def _fonts(css: Path) -> tuple[Path, ...]:
    text = css.read_text("utf-8", errors="replace")
    found = []
    for ref in _FONT.findall(text):
        font = (css.parent / ref.strip("'\"")).resolve()
        if font.is_file():
            found.append(font)
    return tuple(dict.fromkeys(found))


def page_weight(page: Path, site: Path) -> dict[str, int]:
    """Raw and gzip bytes of one page with what it loads (images excluded)."""
    html = page.read_bytes()
    text = html.decode("utf-8", errors="replace")
    assets: list[Path] = []
    for ref in _SCRIPT.findall(text):
        if (p := _local(page, ref, site)) is not None:
            assets.append(p)
    has_math = 'class="arithmatex"' in text
    for tag in _LINK.findall(text):
        if 'rel="stylesheet"' in tag and (href := re.search(r'href="([^"]+)"', tag)):
            if (css := _local(page, href[1], site)) is not None:
                assets.append(css)
                if has_math:
                    assets.extend(_fonts(css))
    raw, gz = _sizes(_PLOT.sub(b"", html))
    for p in dict.fromkeys(assets):
        r, g = _sizes(p.read_bytes())
        raw, gz = raw + r, gz + g
    return {"raw": raw, "gzip": gz}


def bench_page_weight(site: Path) -> dict:
    pages = sorted(p for p in site.rglob("*.html") if "assets" not in p.parts)
    weights = {p.relative_to(site).as_posix(): page_weight(p, site) for p in pages}
    gz = [w["gzip"] for w in weights.values()]
    raw = [w["raw"] for w in weights.values()]
    heaviest = max(weights.items(), key=lambda kv: kv[1]["gzip"])
    return {
        "pages": len(weights),
        "pages_with_math": sum('class="arithmatex"' in p.read_text("utf-8") for p in pages),
        "median_raw_kb": statistics.median(raw) / 1024,
        "median_gzip_kb": statistics.median(gz) / 1024,
        "max_gzip_kb": heaviest[1]["gzip"] / 1024,
        "heaviest": heaviest[0],
    }


if __name__ == "__main__":
    import sys

    print(bench_page_weight(Path(sys.argv[1] if len(sys.argv) > 1 else "site")))
