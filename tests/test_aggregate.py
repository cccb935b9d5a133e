"""Sweep aggregation: a real 4-job toy multirun, then summary.csv and the figures."""

from __future__ import annotations

import csv
import json
import shutil
import struct
import subprocess
import sys

from conftest import QUIET, run_cli


def test_four_job_sweep_is_summarised_and_plotted(tmp_path):
    proc = run_cli(
        "-m", "eta=0,0.2", "seed=0,1", *QUIET, "trainer.max_epochs=2", "trainer.min_epochs=null",
        "data.n_train=300", "data.n_test=100", "attack.steps=5", "attack.eval_eps=[0.0,0.1,0.2]",
        "logger=none", "hydra.sweep.dir=sweep", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = tmp_path / "sweep"

    def aggregate():
        cmd = [sys.executable, "-m", "benign_lightning.aggregate", str(sweep)]
        return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)

    out = aggregate()
    assert out.returncode == 0, out.stderr[-3000:]
    with open(sweep / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    assert sorted((r["eta"], r["seed"]) for r in rows) == [("0", "0"), ("0", "1"), ("0.2", "0"), ("0.2", "1")]
    assert all(r["status"] == "complete" for r in rows)
    assert {"adv_err", "natural_err", "adv_err@0", "adv_err@0.1", "adv_err@0.2"} <= set(rows[0])
    for figure in ("err_vs_eta.png", "adv_err_vs_eps.png"):
        assert (sweep / figure).read_bytes()[:4] == b"\x89PNG"
    # Figure 2a's three panels (adversarial, test, training error), each as wide as the ε figure.
    width = {
        f: struct.unpack(">I", (sweep / f).read_bytes()[16:20])[0]
        for f in ("err_vs_eta.png", "adv_err_vs_eps.png")
    }
    assert width["err_vs_eta.png"] / width["adv_err_vs_eps.png"] > 2.2  # two panels: about 1.7

    # A job that did not finish is reported, and so is one that never started.
    (sorted(sweep.glob("3_*"))[0] / "results.json").unlink()
    shutil.rmtree(sorted(sweep.glob("2_*"))[0])
    out = aggregate()
    assert out.returncode == 1
    assert "UNFINISHED (no results.json): 3_" in out.stdout
    assert "MISSING: the sweep names 4 jobs; 1 never started" in out.stdout


def test_a_crashed_job_leaves_a_failed_marker_that_aggregation_shows(tmp_path):
    proc = run_cli(
        "-m", "+trainer.gradient_clip_algorithm=bogus,norm", *QUIET, "trainer.max_epochs=1",
        "trainer.min_epochs=null", "data.n_train=200", "data.n_test=50", "attack.steps=2", "logger=none",
        "hydra.sweep.dir=sweep",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode != 0  # the sweep reports the crash ...
    sweep = tmp_path / "sweep"
    failed, done = sorted(p for p in sweep.iterdir() if p.is_dir())
    marker = json.loads((failed / "results.json").read_text())
    assert marker["status"] == "failed" and "gradient_clip_algorithm` bogus is invalid" in marker["error"]
    assert json.loads((done / "results.json").read_text())["status"] == "complete"  # ... and goes on
    out = subprocess.run(
        [sys.executable, "-m", "benign_lightning.aggregate", str(sweep)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1
    assert f"FAILED: {failed.name}: MisconfigurationException: `gradient_clip_algorithm` bogus" in out.stdout
    with open(sweep / "summary.csv") as f:
        assert [r["status"] for r in csv.DictReader(f)] == ["failed", "complete"]
