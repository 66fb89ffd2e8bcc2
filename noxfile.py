"""Sessions: docs, serve, offline, tests, e2e, lint, bench.

Every environment is a reused venv (pip, not uv, so that pip's configuration finds the local
CPU wheel of torch) pinned exactly by ``requirements/constraints.txt``. An environment is
reinstalled only when ``pyproject.toml`` or the constraints change, so a warm run starts at
once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
ORACLES = ROOT / "requirements" / "oracles-nodeps.txt"

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "tests"]

BUILD_ENV = {"NO_MKDOCS_2_WARNING": "1", "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}


def _install(session: nox.Session, extras: str, *, oracles: bool = False) -> None:
    """Install the package with ``extras``, pinned, unless this venv already has it.

    ``oracles`` adds the test-only reference implementations of requirements/oracles-nodeps.txt
    (installed without their declared dependencies, which would pull in opencv).
    """
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", CONSTRAINTS, ORACLES):
        digest.update(path.read_bytes())
    digest.update(f"{extras} {oracles}".encode())
    stamp = Path(session.virtualenv.location) / ".knowledge-installed"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        session.log("environment is up to date (pyproject.toml and requirements unchanged)")
        return
    session.install("-c", str(CONSTRAINTS), "-e", f".[{extras}]")
    if oracles:
        session.install("--no-deps", "-r", str(ORACLES))
    stamp.write_text(digest.hexdigest())


@nox.session
def docs(session: nox.Session) -> None:
    """Build the whole bilingual site into site/ in strict mode, executing every block."""
    _install(session, "docs")
    session.run("mkdocs", "build", "--strict", *session.posargs, env=BUILD_ENV)
    session.log("built site/ (Chinese at site/index.html, English at site/en/index.html)")


def _build_offline(session: nox.Session, dest: Path, manifest: Path) -> None:
    """A strict build for file:// (hooks/site.py, ``offline()``) into ``dest``.

    Blocks whose code (and knowledge/, and the toolchain) did not change since the last
    build reuse that build's output from build/exec-cache/ instead of running again.
    """
    env = dict(BUILD_ENV, KNOWLEDGE_OFFLINE="1", KNOWLEDGE_MANIFEST=str(manifest))
    env["KNOWLEDGE_EXEC_CACHE"] = "1"
    session.run("mkdocs", "build", "--strict", "-d", str(dest), env=env)


@nox.session
def offline(session: nox.Session) -> None:
    """The site as files that work without a server or network: build/offline/ and a zip."""
    _install(session, "docs")
    dest = ROOT / "build" / "offline"
    _build_offline(session, dest, ROOT / "build" / "offline-manifest.json")
    archive = shutil.make_archive(str(ROOT / "build" / "knowledge-offline"), "zip", dest)
    session.log(f"open {(dest / 'index.html').as_uri()} (English: en/index.html); zip: {archive}")


@nox.session
def serve(session: nox.Session) -> None:
    """Live preview on http://127.0.0.1:8000, rebuilt on every edit.

    Blocks whose code did not change reuse their last output (build/exec-cache/), so an edit
    to prose does not re-run the page's code. ``nox -s serve -- zh`` (or ``en``) builds one
    language without the search index: the fastest loop while writing a page. Other
    arguments go to ``mkdocs serve``.
    """
    _install(session, "docs")
    env = dict(BUILD_ENV, KNOWLEDGE_EXEC_CACHE="1")
    args = list(session.posargs)
    if args and args[0] in ("zh", "en"):
        env |= {"KNOWLEDGE_ONLY_LANG": args.pop(0), "KNOWLEDGE_SEARCH": "false"}
    session.run("mkdocs", "serve", "-a", "127.0.0.1:8000", *args, env=env)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests, doctests, snippets, a real strict build and its failure modes."""
    _install(session, "docs,test", oracles=True)
    session.run("pytest", *session.posargs, env=BUILD_ENV)


def _ensure_chromium(session: nox.Session) -> None:
    """Install Debian's chromium and fonts-noto-cjk (for Chinese text) unless both are there."""
    if os.environ.get("KNOWLEDGE_CHROMIUM"):  # a browser of the caller's choosing
        return
    packages = ["chromium", "fonts-noto-cjk"]
    dpkg = shutil.which("dpkg")
    missing = [
        p
        for p in packages
        if dpkg and subprocess.run([dpkg, "-s", p], capture_output=True).returncode
    ]
    if not missing and shutil.which("chromium"):
        return
    missing = missing or packages
    if not shutil.which("apt-get"):
        session.error(f"install {' '.join(missing)} (no apt-get here), or set KNOWLEDGE_CHROMIUM")
    sudo: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            session.error(f"{' '.join(missing)} missing: run as root, or install sudo")
        sudo = ["sudo"]
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run(*sudo, "apt-get", "update", external=True, env=env)
    session.run(*sudo, "apt-get", "install", "-y", *missing, external=True, env=env)


@nox.session
def e2e(session: nox.Session) -> None:
    """Real-browser checks of a fresh strict build: headless Chromium through Playwright."""
    _install(session, "docs,e2e")
    _ensure_chromium(session)
    session.run("python", "e2e/vendor.py")  # axe-core from the npm registry
    site = ROOT / "build" / "e2e-site"
    env = dict(BUILD_ENV, KNOWLEDGE_MANIFEST=str(ROOT / "build" / "e2e-manifest.json"))
    session.run("mkdocs", "build", "--strict", "-d", str(site), env=env)
    bundle = ROOT / "build" / "e2e-offline"
    _build_offline(session, bundle, ROOT / "build" / "e2e-offline-manifest.json")
    env = {"KNOWLEDGE_E2E_SITE": str(site), "KNOWLEDGE_E2E_OFFLINE": str(bundle)}
    session.run("pytest", "e2e", *session.posargs, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("-c", str(CONSTRAINTS), "ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Side-by-side benchmarks; prints one table and writes build/bench.json."""
    _install(session, "docs,test", oracles=True)
    env = dict(BUILD_ENV)
    env["KNOWLEDGE_NOX_PYTHON"] = sys.executable  # the interpreter running nox, to time docs
    session.run("python", "bench/run.py", *session.posargs, env=env)
