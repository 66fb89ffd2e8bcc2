"""Terminology: the Chinese pages use the glossary's translation of each term.

``VARIANTS`` maps a translation that readers meet elsewhere to the one this site uses. A
variant may still be *named* (in quotes “…”, or as code), e.g. to say that a transposed
convolution is often mis-called “反卷积”; used as the page's own word, it is flagged with the
page, the line and the glossary term to use instead.
"""

from __future__ import annotations

import re

import pytest
from sitebuild import DOCS

#: variant seen in other texts -> this site's term (which must be in the glossary)
VARIANTS = {
    "感受域": "感受野",
    "批量归一化": "批归一化",
    "批标准化": "批归一化",
    "批量标准化": "批归一化",
    "批规范化": "批归一化",
    "热身": "预热",
    "交叠率": "交并比",
    "上取样": "上采样",
    "下取样": "下采样",
    "反卷积": "转置卷积",
    "膨胀卷积": "空洞卷积",
    "扩张卷积": "空洞卷积",
    "锚点框": "锚框",
    "建议框": "候选框",
    "梯度弥散": "梯度消失",
    "像素准确率": "像素精度",
    "注册表": "注册器",
    "存档点": "检查点",
}

GLOSSARY = (DOCS / "glossary.zh.md").read_text(encoding="utf-8")
#: the first column of every glossary table row
GLOSSARY_TERMS = re.findall(r"^\| ([^|]+?) \|", GLOSSARY, flags=re.M)


def prose_lines(text: str):
    """(line number, text) of prose: fenced code, inline code, quotes and math removed."""
    in_fence = False
    for no, line in enumerate(text.splitlines(), 1):
        if re.match(r"^\s*(```|~~~)", line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        line = re.sub(r"“[^”]*”|「[^」]*」|\"[^\"]*\"", "", line)
        line = re.sub(r"\$[^$]*\$", "", line)
        yield no, line


def test_every_preferred_term_is_in_the_glossary():
    missing = sorted({t for t in VARIANTS.values() if not any(t in g for g in GLOSSARY_TERMS)})
    assert missing == [], f"add these terms to docs/glossary.zh.md: {missing}"


ZH_PAGES = sorted(p for p in DOCS.rglob("*.zh.md") if "snippets" not in p.parts)


@pytest.mark.parametrize("page", ZH_PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_chinese_pages_use_the_glossary_terms(page):
    problems = []
    for no, line in prose_lines(page.read_text(encoding="utf-8")):
        for variant, term in VARIANTS.items():
            if variant in line:
                problems.append(f"line {no}: “{variant}” -> use the glossary term “{term}”")
    assert problems == [], problems


def test_the_check_flags_a_variant_and_allows_a_quoted_mention():
    text = "转置卷积常被误称为“反卷积”。\n\n它的感受域很大。\n\n```\n感受域\n```\n"
    flagged = [(no, v) for no, line in prose_lines(text) for v in VARIANTS if v in line]
    assert flagged == [(3, "感受域")]
