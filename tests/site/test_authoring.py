"""The authoring loop (``nox -s serve``): a rebuild reuses cached outputs and shows the same site.

With ``KNOWLEDGE_EXEC_CACHE=1`` the hook reuses the output of every block whose code did not
change (build/exec-cache/) and the rendered API entries (in memory). This builds a small
fixture site twice in one process, as ``mkdocs serve`` does on an edit, and checks that the
second build ran no code and rendered no API entry anew, yet wrote the same pages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sitebuild import ROOT, make_site

REBUILD = """
import json, sys
from pathlib import Path
from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocstrings_handlers.python._internal.handler import PythonHandler

config_file, site, manifest, out = sys.argv[1:5]
render = PythonHandler.render
def counted(self, *args, **kwargs):
    PythonHandler.calls += 1
    return render(self, *args, **kwargs)
PythonHandler.render = counted
results = []
for _ in range(2):  # mkdocs serve loads the configuration again for every rebuild
    config = load_config(config_file, site_dir=site)
    PythonHandler.calls = 0
    build(config)
    files = sorted(Path(site).rglob("*.html"))
    pages = {p.relative_to(site).as_posix(): p.read_text("utf-8") for p in files}
    rows = json.loads(Path(manifest).read_text("utf-8"))["blocks"]
    results.append({"pages": pages, "rows": rows, "renders": PythonHandler.calls})
Path(out).write_text(json.dumps(results), "utf-8")
"""

API_BLOCK = "\n## API\n\n::: knowledge.metrics.pixel_accuracy\n"


def _add_api_block(docs: Path) -> None:
    for lang in ("zh", "en"):
        page = docs / f"page.{lang}.md"
        page.write_text(page.read_text("utf-8") + API_BLOCK, "utf-8")


def test_a_rebuild_reuses_outputs_and_api_entries_and_writes_the_same_site(tmp_path):
    config = make_site(tmp_path, _add_api_block)
    site, manifest, out = tmp_path / "site", tmp_path / "manifest.json", tmp_path / "out.json"
    env = dict(os.environ, KNOWLEDGE_EXEC_CACHE="1", KNOWLEDGE_MANIFEST=str(manifest))
    env.update(NO_MKDOCS_2_WARNING="1", PYTHONHASHSEED="0", MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, "-c", REBUILD, str(config), str(site), str(manifest), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    first, second = json.loads(out.read_text("utf-8"))

    # The first build ran the snippet once (English reused the Chinese output) ...
    assert [r.get("reused_from") for r in first["rows"]] == ["zh", None]
    assert first["renders"] == 2  # the API entry, once per language
    # ... the second ran nothing and rendered nothing: both came from the caches.
    assert [r.get("reused_from") for r in second["rows"]] == ["exec-cache", "exec-cache"]
    assert second["renders"] == 0
    assert (tmp_path / "build" / "exec-cache").is_dir()

    assert second["pages"].keys() == first["pages"].keys()
    for name, html in first["pages"].items():
        assert second["pages"][name] == html, name
    page = first["pages"]["page/index.html"]
    assert 'id="knowledge.metrics.pixel_accuracy"' in page and "1.0" in page
