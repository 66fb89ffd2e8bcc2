"""`nox -s bench`: side-by-side benchmarks, one table, written to build/bench.json.

Every ratio compares two things measured in this one run on this machine, so the numbers
carry over between machines better than absolute times. Entries:

* ``SegmentationMetric.update`` vs torchmetrics ``MulticlassJaccardIndex.update``
  (``validate_args`` False and True), 8x512x512 label maps, 150 classes;
* the Swin-T backbone forward vs timm's, 1x3x224x224;
* ``nms`` (1,000 and 5,000 boxes) and ``roi_align`` vs torchvision's, or vs a plain-Python
  reference where torchvision's compiled op does not run;
* a 2-process SyncBN training step vs single-process BN on the same total batch;
* the wall time of a full warm ``nox -s docs``, as a user would time it;
* the slowest pages by executed-code time, read from that build's manifest (each snippet
  runs once per build; the other language reuses its output);
* page weight of that build: HTML + CSS + JS + fonts per page, raw and gzip (goal: median
  at most 300 KB gzip, images not counted).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_detection  # noqa: E402
import bench_metrics  # noqa: E402
import bench_pageweight  # noqa: E402
import bench_swin  # noqa: E402
import bench_syncbn  # noqa: E402


def time_docs_build() -> tuple[float, Path]:
    """Run ``nox -s docs`` twice (the first warms the venv) and time the second."""
    nox_python = os.environ.get("KNOWLEDGE_NOX_PYTHON", sys.executable)
    manifest = ROOT / "build" / "bench-manifest.json"
    env = dict(os.environ, KNOWLEDGE_MANIFEST=str(manifest))
    cmd = [nox_python, "-m", "nox", "-s", "docs"]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start, manifest


#: Executed-code budget per page and language, in seconds (the issues' targets).
PAGE_BUDGET = {"training/batchnorm": 6.0, "tutorial/train": 30.0}
DEFAULT_BUDGET = 3.0


def page_budget(page: str) -> float:
    return PAGE_BUDGET.get(page, DEFAULT_BUDGET)


def slowest_pages(manifest: Path, n: int = 10) -> list[tuple[str, float]]:
    """Executed-code seconds per page (both languages: each snippet runs once per build)."""
    blocks = json.loads(manifest.read_text())["blocks"]
    per_page: dict[str, float] = defaultdict(float)
    for b in blocks:
        per_page[b["page"].rsplit(".", 2)[0]] += b["seconds"]
    return sorted(per_page.items(), key=lambda kv: -kv[1])[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-docs", action="store_true", help="do not time nox -s docs")
    parser.add_argument("--repeats", type=int, default=20, help="timed repeats per entry")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")

    import torch

    bench_swin._declare_torchvision_ops()  # torchmetrics and timm import torchvision
    torch.set_num_threads(2)
    rows: list[dict] = []
    m = bench_metrics.bench_update(repeats=args.repeats)
    rows.append(
        {
            "entry": "SegmentationMetric.update vs MulticlassJaccardIndex.update "
            "(validate_args=False), 8x512x512, K=150",
            "ours": f"{m['ours_ms']:.1f} ms",
            "reference": f"{m['tm_fast_ms']:.1f} ms",
            "ratio": m["ratio_fast"],
        }
    )
    rows.append(
        {
            "entry": "SegmentationMetric.update vs MulticlassJaccardIndex.update "
            "(validate_args=True), 8x512x512, K=150",
            "ours": f"{m['ours_ms']:.1f} ms",
            "reference": f"{m['tm_validate_ms']:.1f} ms",
            "ratio": m["ratio_validate"],
        }
    )
    sw = bench_swin.bench_forward(repeats=args.repeats)
    rows.append(
        {
            "entry": "Swin-T backbone forward vs timm (reference), 1x3x224x224 "
            "(target: ours within 1.2x, i.e. ratio >= 0.83)",
            "ours": f"{sw['ours_ms']:.1f} ms",
            "reference": f"{sw['ref_ms']:.1f} ms",
            "ratio": sw["ref_ms"] / sw["ours_ms"],
        }
    )
    for n, repeats in ((1000, 3), (5000, 1)):
        nm = bench_detection.bench_nms(n, repeats)
        rows.append(
            {
                "entry": f"nms vs {nm['ref_name']}, {n} boxes (same kept: {nm['same']})",
                "ours": f"{nm['ours_ms']:.1f} ms",
                "reference": f"{nm['ref_ms']:.1f} ms",
                "ratio": nm["ratio"],
            }
        )
    ra = bench_detection.bench_roi_align(3)
    rows.append(
        {
            "entry": f"roi_align vs {ra['ref_name']}, 256 RoIs on 2x64x50x68",
            "ours": f"{ra['ours_ms']:.1f} ms",
            "reference": f"{ra['ref_ms']:.1f} ms",
            "ratio": ra["ratio"],
        }
    )
    sb = bench_syncbn.bench_syncbn_step()
    rows.append(
        {
            "entry": "training step: 1 process BN (2 threads) vs 2-process SyncBN + DDP "
            f"(1 thread each), total batch 16x3x64x64 (same update: {sb['same']})",
            "ours": f"{sb['sync_ms']:.1f} ms",
            "reference": f"{sb['single_ms']:.1f} ms",
            "ratio": sb["ratio"],
        }
    )
    torch.set_num_threads(2)
    result: dict = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    if not args.skip_docs:
        seconds, manifest = time_docs_build()
        rows.append(
            {
                "entry": "full warm `nox -s docs` (wall, target < 60 s)",
                "ours": f"{seconds:.1f} s",
                "reference": "60 s",
                "ratio": 60.0 / seconds,
            }
        )
        pw = bench_pageweight.bench_page_weight(ROOT / "site")
        rows.append(
            {
                "entry": f"page weight, median of {pw['pages']} pages, gzip (goal <= 300 KB; "
                f"raw {pw['median_raw_kb']:.0f} KB; heaviest {pw['heaviest']} "
                f"{pw['max_gzip_kb']:.0f} KB; all KaTeX fonts counted on math pages)",
                "ours": f"{pw['median_gzip_kb']:.0f} KB",
                "reference": "300 KB",
                "ratio": 300.0 / pw["median_gzip_kb"],
            }
        )
        result["page_weight"] = pw
        browser = ROOT / "build" / "pageweight-browser.json"
        if browser.is_file():  # written by `nox -s e2e`: what Chromium actually fetched
            measured = json.loads(browser.read_text("utf-8"))
            median_kb = measured["median_gzip"] / 1024
            rows.append(
                {
                    "entry": f"page weight as loaded in Chromium, median of "
                    f"{len(measured['pages'])} pages, gzip (goal <= 300 KB; fonts the text "
                    "used; from the last `nox -s e2e`)",
                    "ours": f"{median_kb:.0f} KB",
                    "reference": "300 KB",
                    "ratio": 300.0 / median_kb,
                }
            )
            result["page_weight_browser"] = {k: v for k, v in measured.items() if k != "pages"}
        result["slowest_pages"] = [
            {"page": p, "seconds": round(s, 3), "budget": page_budget(p)}
            for p, s in slowest_pages(manifest)
        ]
    result["rows"] = rows

    width = max(len(r["entry"]) for r in rows)
    print(f"{'entry':<{width}}  {'ours':>10}  {'reference':>10}  {'ref/ours':>8}")
    for r in rows:
        print(f"{r['entry']:<{width}}  {r['ours']:>10}  {r['reference']:>10}  {r['ratio']:>8.2f}")
    print("(ref/ours > 1: ours is faster)")
    if "slowest_pages" in result:
        print("\nslowest pages by executed-code time (build manifest):")
        for item in result["slowest_pages"]:
            flag = "ok" if item["seconds"] <= item["budget"] else "OVER BUDGET"
            budget = f"budget {item['budget']:.0f} s, {flag}"
            print(f"  {item['seconds']:7.3f} s  ({budget})  {item['page']}")
    out = ROOT / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
