"""zh/en parity, read from the Markdown sources: the two languages differ only in prose."""

from __future__ import annotations

import re

import pytest
from sitebuild import DOCS, hooks

API_RE = re.compile(r"^:::\s*(\S+)", re.M)
XREF_RE = re.compile(r"\]\[(knowledge(?:\.\w+)+)\]")
# Display maths first ($$...$$ over several lines), then inline $...$ and \( \) forms.
MATH_RE = re.compile(
    r"\$\$(.+?)\$\$|\\\((.+?)\\\)|\\\[(.+?)\\\]|(?<![\\$])\$(?!\s)([^$\n]+?)\$", re.S
)
CODE_RE = re.compile(r"^([ \t]*)(`{3,}|~{3,}).*?\n\1\2[ \t]*$|`[^`\n]+`", re.M | re.S)


def stems() -> list[str]:
    out = set()
    for p in DOCS.rglob("*.md"):
        rel = p.relative_to(DOCS).as_posix()
        if rel.startswith("snippets/"):
            continue
        out.add(re.sub(r"\.(zh|en)\.md$", "", rel))
    return sorted(out)


def read(stem: str, lang: str) -> str:
    return (DOCS / f"{stem}.{lang}.md").read_text(encoding="utf-8")


def formulas(text: str) -> list[str]:
    prose = CODE_RE.sub("", text)
    return [next(g for g in m.groups() if g is not None).strip() for m in MATH_RE.finditer(prose)]


def test_the_same_pages_exist_in_both_languages():
    zh = {p.relative_to(DOCS).as_posix()[:-6] for p in DOCS.rglob("*.zh.md")}
    en = {p.relative_to(DOCS).as_posix()[:-6] for p in DOCS.rglob("*.en.md")}
    assert zh == en
    assert {"index", "glossary", "metrics/segmentation"} <= zh


@pytest.mark.parametrize("stem", stems())
def test_same_snippets_in_the_same_order_with_the_same_options(stem):
    zh = hooks.executed_fences(read(stem, "zh"))
    en = hooks.executed_fences(read(stem, "en"))
    assert [(f["lang"], f["opts"], f["body"].strip()) for f in zh] == [
        (f["lang"], f["opts"], f["body"].strip()) for f in en
    ]


@pytest.mark.parametrize("stem", stems())
def test_no_inline_executed_code(stem):
    for lang in ("zh", "en"):
        for fence in hooks.executed_fences(read(stem, lang)):
            assert hooks.SNIPPET_LINE_RE.match(fence["body"].strip()), (stem, lang, fence)
            assert len(fence["body"].strip().splitlines()) == 1


@pytest.mark.parametrize("stem", stems())
def test_same_api_entries_and_cross_references(stem):
    zh, en = read(stem, "zh"), read(stem, "en")
    assert API_RE.findall(zh) == API_RE.findall(en)
    assert sorted(set(XREF_RE.findall(zh))) == sorted(set(XREF_RE.findall(en)))


@pytest.mark.parametrize("stem", stems())
def test_same_formulas(stem):
    assert formulas(read(stem, "zh")) == formulas(read(stem, "en"))


def test_formula_extraction_sees_inline_and_display_math():
    text = "a $x+1$ b\n\n$$\n\\frac{a}{b}\n$$\n\nc \\(y\\) `$not$`\n"
    assert formulas(text) == ["x+1", "\\frac{a}{b}", "y"]
