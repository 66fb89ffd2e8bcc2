"""Helpers to build a site in a subprocess and read its manifest (shared by the tests)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
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


# --------------------------------------------------------------------------- fixture site
GOOD_SNIPPET = "import torch\n\ntorch.manual_seed(0)\nprint(torch.ones(2).sum().item())\n"
FENCE = '```python exec="on" source="tabbed-left" result="text"\n--8<-- "demo/{name}"\n```\n'


def derive_config(real: str, docs: Path) -> str:
    """The real configuration with docs_dir, snippet path, hooks and nav pointed at ``docs``."""

    def sub(pattern: str, repl: str, text: str) -> str:
        new, n = re.subn(pattern, repl, text, count=1, flags=re.M | re.S)
        assert n == 1, f"mkdocs.yml no longer has {pattern!r}: update derive_config"
        return new

    cfg = sub(r"^docs_dir: .*?$", f"docs_dir: {docs}", real)
    cfg = sub(r"base_path: \[docs/snippets\]", f"base_path: [{docs / 'snippets'}]", cfg)
    cfg = sub(r"^  - hooks/site.py$", f"  - {ROOT / 'hooks' / 'site.py'}", cfg)
    cfg = sub(r"jieba_dict_user: hooks/", f"jieba_dict_user: {ROOT / 'hooks'}/", cfg)
    cfg = sub(r"custom_dir: overrides$", f"custom_dir: {ROOT / 'overrides'}", cfg)
    nav = "nav:\n  - 首页: index.md\n  - 页面: page.md\n\n"
    cfg = sub(r"^nav:\n.*?\n(?=\S)", nav, cfg)
    return cfg


def make_site(root: Path, mutate) -> Path:
    docs = root / "docs"
    (docs / "snippets" / "demo").mkdir(parents=True)
    (docs / "snippets" / "demo" / "good.py").write_text(GOOD_SNIPPET)
    files = {
        "index.zh.md": "# 首页\n\n见[页面](page.md#第一节)。\n",
        "index.en.md": "# Home\n\nSee [the page](page.md#section-one).\n",
        "page.zh.md": "# 页面\n\n## 第一节\n\n" + FENCE.format(name="good.py"),
        "page.en.md": "# Page\n\n## Section one\n\n" + FENCE.format(name="good.py"),
    }
    for name, text in files.items():
        (docs / name).write_text(text, encoding="utf-8")
    mutate(docs)
    config = root / "mkdocs.yml"
    config.write_text(derive_config((ROOT / "mkdocs.yml").read_text("utf-8"), docs), "utf-8")
    return config
