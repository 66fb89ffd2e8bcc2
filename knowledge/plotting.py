"""Deterministic, accessible inline SVG from matplotlib figures, for executed pages.

A page block prints ``svg(fig, alt=...)`` inside a fence with ``html="1"``; the same call in a
standalone snippet prints the same bytes. Determinism needs three things: no date metadata,
a fixed hash salt, and ids that stay unique when one page holds several plots (matplotlib
names glyphs and clip paths the same way in every figure).
"""

from __future__ import annotations

import html
import io
import re
from typing import Any

__all__ = ["svg"]

_ID_RE = re.compile(r'\bid="([^"]+)"')


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40] or "plot"


def svg(fig: Any, *, alt: str, name: str | None = None) -> str:
    """Render a matplotlib figure as an inline ``<svg>`` element and close the figure.

    Args:
        fig: a ``matplotlib.figure.Figure``.
        alt: text alternative, in English; stored as the SVG ``<title>`` and ``aria-label``.
        name: prefix that keeps ids unique on a page with several plots. Defaults to a slug
            of ``alt``.

    Returns:
        The ``<svg>…</svg>`` markup, without the XML declaration, identical across runs.

    Raises:
        ValueError: if ``alt`` is empty.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots(figsize=(2, 1))
        >>> _ = ax.plot([0, 1], [1, 0])
        >>> out = svg(fig, alt="A falling line")
        >>> out.startswith("<svg") and "<title>A falling line</title>" in out
        True
    """
    if not alt or not alt.strip():
        raise ValueError("alt must be a non-empty description of the plot, got an empty string")
    import matplotlib
    import matplotlib.pyplot as plt

    prefix = _slug(name or alt)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": prefix, "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg") :].strip()
    for old in dict.fromkeys(_ID_RE.findall(text)):
        new = f"{prefix}-{old}"
        text = text.replace(f'id="{old}"', f'id="{new}"')
        text = text.replace(f'"#{old}"', f'"#{new}"').replace(f"url(#{old})", f"url(#{new})")
    # matplotlib gives identical images in one figure the same id: number the repeats.
    seen: dict[str, int] = {}

    def _unique(match: re.Match[str]) -> str:
        name = match.group(1)
        seen[name] = seen.get(name, 0) + 1
        return match.group(0) if seen[name] == 1 else f'id="{name}-{seen[name]}"'

    text = _ID_RE.sub(_unique, text)
    label = html.escape(alt, quote=True)
    text = text.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
    head_end = text.index(">") + 1
    return f"{text[:head_end]}\n<title>{html.escape(alt)}</title>{text[head_end:]}"
