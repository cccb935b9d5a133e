"""Figures 1 and 4: the claims on constructed results (a wrong result fails, a faithful one holds),
and the figures from real runs at smoke scale (Figure 5's runs, which both entries read)."""

from __future__ import annotations

import json

from benign_lightning.reproduce import registry as reg
from benign_lightning.reproduce.report import FAILS, HOLDS, TOO_FEW, check_claims
from benign_lightning.reproduce.results import Results


def _verdicts(tmp_path, entry, figure1=None, figure4=None):
    job = tmp_path / "mem" / "0_job"
    job.mkdir(parents=True, exist_ok=True)
    (job / "rare_examples.json").write_text(json.dumps({"figure1": figure1, "figure4": figure4}))
    return {v.id: v.verdict for v in check_claims(entry, Results({"mem": tmp_path / "mem"}), None, "cpu")}


FIG1 = {"n_train": 2000, "n_robust_unfit": 90, "n_shown": 24, "n_shown_natural_fits": 24,
        "n_memorized": 24, "memorized_least_mem": 0.8, "n_memorized_robust_predicts_given": 0}  # fmt: skip


def test_figure1_holds_only_when_the_robust_model_fits_none_of_the_memorized_points(tmp_path):
    assert _verdicts(tmp_path, reg.FIG1, FIG1)["neither fits"] == HOLDS
    fits_some = {**FIG1, "n_memorized_robust_predicts_given": 5}  # robust training fitted 5 of them
    assert _verdicts(tmp_path, reg.FIG1, fits_some)["neither fits"] == FAILS
    assert _verdicts(tmp_path, reg.FIG1, {**FIG1, "n_memorized": 3})["neither fits"].startswith(TOO_FEW)


FIG4 = {"n_test_wrong": 30, "n_pairs": 20, "same_class_count": 14, "same_class_chance": 0.12,
        "influence_share_from_unfit": 0.7, "unfit_fraction": 0.05}  # fmt: skip


def test_figure4_pairs_beat_chance_and_their_influence_comes_from_unfit_points(tmp_path):
    found = _verdicts(tmp_path, reg.FIG4, figure4=FIG4)
    assert found == {"same class": HOLDS, "influence": HOLDS}
    chance_like = {**FIG4, "same_class_count": 3, "influence_share_from_unfit": 0.1}  # 3 of 20 at chance 0.12
    assert _verdicts(tmp_path, reg.FIG4, figure4=chance_like) == {"same class": FAILS, "influence": FAILS}
    common = {**FIG4, "unfit_fraction": 0.3}  # 0.7 of the influence from 0.3 of the set: not disproportionate
    assert _verdicts(tmp_path, reg.FIG4, figure4=common)["influence"] == FAILS
    few = {**FIG4, "n_pairs": 4, "same_class_count": 4}
    assert _verdicts(tmp_path, reg.FIG4, figure4=few)["same class"].startswith(TOO_FEW)


def test_both_figures_from_runs_at_smoke_scale(tmp_path, mnist_root):
    """Figure 5's runs (toy-MNIST at smoke scale) through the step after them: the grid, the CSV, the
    pairs and their numbers."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "BENIGN_DATA_DIR": str(mnist_root), "WANDB_MODE": "disabled"}
    argv = [sys.executable, "-m", "benign_lightning.reproduce", "fig1", "fig4", "--scale", "smoke",
            "--out", "repro"]  # fmt: skip
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sweep 1/3 'mem': 1 jobs, 1 finished, 0 to run" in proc.stdout  # fig4 reads fig1's (fig5's) runs
    job = next((tmp_path / "repro" / "fig5" / "smoke" / "runs" / "mem").glob("*/rare_examples.json")).parent
    rows = (job / "figure1.csv").read_text().splitlines()
    assert rows[0].startswith("dataset_index,given_label,robust_pred,natural_pred") and len(rows) > 1
    summary = json.loads((job / "rare_examples.json").read_text())
    shown = summary["figure1"]
    assert shown["n_shown"] == len(rows) - 1 and shown["n_shown_robust_predicts_given"] == 0
    assert 0 < shown["n_memorized"] <= 24
    assert list((tmp_path / "repro" / "fig1" / "smoke").glob("*figure1.png"))
    assert list((tmp_path / "repro" / "fig4" / "smoke").glob("*figure4.png"))
