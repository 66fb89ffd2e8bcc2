"""The tutorial's training run: resume, schedule, model, metrics, CLI and the built page."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from sitebuild import ROOT
from torchmetrics.classification import MulticlassJaccardIndex

from knowledge.blocks import PPM
from knowledge.models import EncoderDecoder, UPerHead
from knowledge.training import CheckpointError
from knowledge.tutorial import (
    IGNORE_INDEX,
    NUM_CLASSES,
    ShapesDataset,
    TinyCNN,
    TrainConfig,
    build_model,
    fit,
    format_metrics,
    predict,
)

TINY = TrainConfig(
    iters=8,
    batch_size=4,
    lr=5e-3,
    warmup_iters=3,
    warmup_ratio=0.2,
    power=0.9,
    log_interval=2,
    eval_interval=4,
    num_train=12,  # 3 batches per epoch: the checkpoint at 4 lies inside epoch 1
    num_val=4,
    widths=(4, 8, 8, 8),
    channels=8,
)


@pytest.fixture(scope="module")
def straight():
    return fit(TINY)


def test_resume_gives_the_same_run_bit_for_bit(straight, tmp_path):
    first = fit(TINY, out_dir=tmp_path, stop_after=4)
    assert first.iter == 4 and first.metrics is None
    assert [p.name for p in first.checkpoints] == ["iter_4.pth"]
    resumed = fit(TINY, resume_from=first.checkpoints[-1])  # new model, optimizer, loader
    assert resumed.start_iter == 4 and resumed.iter == 8
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert resumed.losses == straight.losses  # loss history, restored then continued
    assert resumed.lrs == straight.lrs
    assert resumed.evals == straight.evals
    assert resumed.metrics["mIoU"] == straight.metrics["mIoU"]


def test_lr_schedule_is_linear_warmup_then_poly(straight):
    # Plain-Python reference (mmcv 1.x semantics): warmup factor 1 - (1 - i/W)(1 - r) for
    # i < W, times poly decay lr * (1 - i/N)^p; one value per iteration i = 0 .. N - 1.
    n, w, r, p, lr = TINY.iters, TINY.warmup_iters, TINY.warmup_ratio, TINY.power, TINY.lr
    expected = []
    for i in range(n):
        factor = 1 - (1 - i / w) * (1 - r) if i < w else 1.0
        expected.append(factor * lr * (1 - i / n) ** p)
    assert straight.lrs == pytest.approx(expected, rel=1e-12, abs=0)
    # iteration 0 trains at r * lr, and the peak is right after warmup
    assert straight.lrs[0] == pytest.approx(0.2 * 5e-3)
    assert max(straight.lrs) == straight.lrs[w]


def test_logging_and_evaluation_records(straight):
    # LoggerHook: mean loss of each window of log_interval iterations
    assert [r["iter"] for r in straight.losses] == [2, 4, 6, 8]
    assert [r["epoch"] for r in straight.losses] == [0, 1, 1, 2]  # 3 iterations per epoch
    assert [r["iter"] for r in straight.evals] == [4, 8]
    assert all(0 <= r["mIoU"] <= 1 for r in straight.evals)


def test_model_is_made_of_the_sites_pieces():
    model = build_model(TrainConfig())
    assert isinstance(model, EncoderDecoder)
    assert isinstance(model.backbone, TinyCNN)
    assert isinstance(model.decode_head, UPerHead)
    assert isinstance(model.decode_head.psp_modules, PPM)
    assert model.decode_head.psp_modules.pool_scales == (1, 2, 4)
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 64, 64)).shape == (2, NUM_CLASSES, 64, 64)


def test_final_metrics_match_torchmetrics(straight):
    # Independent oracle: torchmetrics' Jaccard index over the same predictions.
    val = ShapesDataset("val", num_train=TINY.num_train, num_val=TINY.num_val)
    pred = predict(straight.model, val.images)
    oracle = MulticlassJaccardIndex(NUM_CLASSES, average="macro", ignore_index=IGNORE_INDEX)
    present = torch.zeros(NUM_CLASSES, dtype=torch.bool)
    present[pred.unique()] = True
    present[val.labels[val.labels != IGNORE_INDEX].long().unique()] = True
    per_class = MulticlassJaccardIndex(NUM_CLASSES, average="none", ignore_index=IGNORE_INDEX)
    ious = per_class(pred, val.labels.long())
    # torchmetrics gives 0 to classes absent from both; mmseg (and ours) leaves them out
    expected = ious[present].mean().item()
    assert straight.metrics["mIoU"] == pytest.approx(expected, abs=1e-6)
    if present.all():
        assert expected == pytest.approx(oracle(pred, val.labels.long()).item(), abs=1e-6)


def test_resume_refuses_another_configuration(tmp_path):
    first = fit(TINY, out_dir=tmp_path, stop_after=4)
    other = TrainConfig(**{**TINY.to_dict(), "lr": 1e-3})
    with pytest.raises(ValueError, match=r"another configuration: lr=0\.005 \(now 0\.001\)"):
        fit(other, resume_from=first.checkpoints[-1])
    with pytest.raises(FileNotFoundError):
        fit(TINY, resume_from=tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk\.pth"):
        fit(TINY, resume_from=tmp_path / "junk.pth")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"iters": 0}, "TrainConfig.iters must be >= 1, got 0"),
        ({"batch_size": -1}, "TrainConfig.batch_size must be >= 1, got -1"),
        ({"iters": 10, "warmup_iters": 10}, "warmup_iters=10 must be less than iters=10"),
        ({"checkpoint_interval": 15}, "checkpoint_interval=15 must be a multiple of"),
        ({"widths": (8, 8)}, "TrainConfig.widths must hold 4 ints"),
        ({"lr": 0.0}, "TrainConfig.lr must be > 0, got 0.0"),
    ],
)
def test_config_errors_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        TrainConfig(**kwargs)


def test_stop_after_is_checked():
    with pytest.raises(ValueError, match=r"stop_after must be an int in \[1, iters=8\], got 9"):
        fit(TINY, stop_after=9)
    with pytest.raises(ValueError, match="multiple of log_interval=2"):
        fit(TINY, stop_after=3)


def test_format_metrics_prints_an_easily_parsed_miou_line():
    metrics = {"IoU": [0.9, 0.8, 0.7, 0.6, 0.5], "Acc": [1.0] * 5}
    metrics |= {"aAcc": 0.95, "mIoU": 0.7, "mAcc": 1.0}
    text = format_metrics(metrics)
    assert re.search(r"^mIoU\s+0\.7000$", text, re.M)
    assert text.splitlines()[1].split() == ["background", "0.9000", "1.0000"]


# ----------------------------------------------------------------------------- command line
def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "knowledge.tutorial.train", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--iters", "0"], "argument --iters: must be an integer >= 1, got 0"),
        (["--batch-size", "-1"], "argument --batch-size: must be an integer >= 1, got -1"),
        (["--iters", "ten"], "argument --iters: expected an integer, got 'ten'"),
        (["--lr", "-0.1"], "argument --lr: must be a finite number > 0, got -0.1"),
        (["--resume", "missing.pth"], "argument --resume: no such checkpoint file: missing.pth"),
        (["--checkpoint-interval", "15"], "argument --checkpoint-interval: must be a multiple"),
    ],
)
def test_cli_rejects_bad_arguments_with_a_message_naming_them(args, named, tmp_path):
    proc = _cli(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert named in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_cli_help_lists_the_options(tmp_path):
    proc = _cli("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for option in ("--iters", "--batch-size", "--resume PATH", "--out DIR"):
        assert option in proc.stdout


def test_cli_trains_writes_checkpoints_and_metrics_and_resumes(tmp_path):
    run = _cli("--iters", "20", "--checkpoint-interval", "10", "--out", "run", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    out = tmp_path / "run"
    assert sorted(p.name for p in out.iterdir()) == ["iter_10.pth", "iter_20.pth", "metrics.json"]
    # progress bar on stderr, one redraw per iteration ("\r" reads as a newline in text mode)
    bars = [line for line in run.stderr.splitlines() if line.startswith("[")]
    assert [b.split("] ")[1].split()[0] for b in bars] == [f"{i}/20" for i in range(1, 21)]
    assert bars[-1].startswith("[" + "#" * 24 + "] 20/20 loss ") and "val mIoU" in bars[-1]
    assert "Traceback" not in run.stderr
    table = re.search(r"^mIoU\s+(\d\.\d{4})$", run.stdout, re.M)
    assert table, run.stdout
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["config"]["iters"] == 20
    assert f"{summary['metrics']['mIoU']:.4f}" == table[1]
    assert len(summary["history"]["lrs"]) == 20
    ckpt = torch.load(out / "iter_10.pth", weights_only=True)
    assert ckpt["iteration"] == 10 and ckpt["meta"]["config"]["batch_size"] == 16

    # resume from the middle in a new process: the same final table
    again = _cli("--resume", str(out / "iter_10.pth"), "--no-progress", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""  # --no-progress
    assert again.stdout.strip() == run.stdout.split("\nwrote")[0].strip()

    conflict = _cli("--resume", str(out / "iter_10.pth"), "--iters", "30", cwd=tmp_path)
    assert conflict.returncode == 2
    assert "argument --iters: 30 differs from the checkpoint's iters=20" in conflict.stderr


# ----------------------------------------------------------------------------- the page
def _page_miou(path: Path) -> float:
    text = html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))
    found = re.findall(r"^mIoU\s+(\d\.\d{4})\s*$", text, re.M)
    assert len(found) == 1, f"expected one 'mIoU <value>' line in {path}, found {found}"
    return float(found[0])


def test_the_built_page_reports_a_final_miou_of_at_least_0_6(real_build):
    # Reads what the real build printed; nothing is trained here.
    zh = _page_miou(real_build.site / "tutorial" / "train" / "index.html")
    en = _page_miou(real_build.site / "en" / "tutorial" / "train" / "index.html")
    assert zh == en
    assert zh >= 0.6


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_page_prose_states_the_default_configuration(lang):
    """The prose quotes the schedule's numbers; they must be those of ``TrainConfig()``."""
    config = TrainConfig()
    half = config.iters // 2 // config.log_interval * config.log_interval
    epoch = -(-config.num_train // config.batch_size)  # iterations per epoch, rounded up
    text = (ROOT / "docs" / "tutorial" / f"train.{lang}.md").read_text("utf-8")
    for needle in (
        f"$N = {config.iters}$",
        f"$W = {config.warmup_iters}$",
        f"`warmup_iters={config.warmup_iters}`",
        f"stop_after={half})",
        f"iter_{half}.pth",
        f"= {epoch}\n",
        f"{config.iters / epoch:g}",  # epochs of the whole run
        f" {(half % epoch) * config.batch_size + 1} ",  # first sample after the resume
        f" {config.eval_interval} ",
    ):
        assert needle in text, f"train.{lang}.md does not say {needle!r}"


def test_the_build_prefetches_the_run_that_tutorial_run_takes():
    """hooks/site.py names the target without importing the tutorial; it must be this one."""
    from sitebuild import hooks

    from knowledge.tutorial import train

    assert hooks.TUTORIAL_RUN == train.PREFETCH_TARGET
    module, _, name = hooks.TUTORIAL_RUN.partition(":")
    assert module == train.__name__ and callable(getattr(train, name))
