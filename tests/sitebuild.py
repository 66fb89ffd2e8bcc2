"""Helpers to build a site in a subprocess and read its manifest (shared by the tests)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"

_spec = importlib.util.spec_from_file_location("knowledge_site_hooks", ROOT / "hooks" / "site.py")
hooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hooks)


@dataclass
class Build:
    """The result of one `mkdocs build --strict` run in a subprocess."""

    site: Path
    manifest: dict
    returncode: int
    log: str

    @property
    def blocks(self) -> list[dict]:
        return self.manifest["blocks"]


def build_env(manifest: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        NO_MKDOCS_2_WARNING="1",
        MPLBACKEND="Agg",
        KNOWLEDGE_MANIFEST=str(manifest),
    )
    return env


def start_build(config: Path, site: Path) -> subprocess.Popen:
    """Start a strict build of ``config`` into ``site``; the manifest goes beside ``site``."""
    manifest = site.parent / f"{site.name}-manifest.json"
    return subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=ROOT,
        env=build_env(manifest),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish_build(proc: subprocess.Popen, site: Path, timeout: float = 600) -> Build:
    out, _ = proc.communicate(timeout=timeout)
    manifest_file = site.parent / f"{site.name}-manifest.json"
    manifest = json.loads(manifest_file.read_text()) if manifest_file.exists() else {}
    return Build(site=site, manifest=manifest, returncode=proc.returncode, log=out)
