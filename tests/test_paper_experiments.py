"""The appendix and theory experiments as ``+experiment=...`` configs (issue 14): each runs end to end
through the CLI on a short schedule and writes its figure, and the sweeps aggregate."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import QUIET, REPO, read_json

from benign_lightning.aggregate import aggregate

PLANAR_SHORT = ["trainer.max_epochs=2", "data.n_train=200", "data.n_test=100", "attack.steps=5",
                "attack.restarts=1", "logger=none", *QUIET]  # fmt: skip


def _run(main_in_process, tmp_path, *overrides: str) -> dict:
    code, _, stderr = main_in_process(*overrides, "hydra.run.dir=r")
    assert code == 0, stderr[-3000:]
    return read_json(tmp_path / "r" / "results.json")


def _png(path) -> bool:
    return path.read_bytes()[:4] == b"\x89PNG"


def test_circles_reports_training_error_by_disc_size_and_draws_the_regions(tmp_path, main_in_process):
    results = _run(main_in_process, tmp_path, "+experiment=circles", "method=at", "model=mlp_4x100",
                   *PLANAR_SHORT)  # fmt: skip
    assert results["name"] == "circles" and results["method"] == "at"
    by_size = results["train_err_by_group_size"]
    assert set(by_size) == {"0.3", "1.2"} and sum(g["points"] for g in by_size.values()) == 200
    assert 0 < results["margin"]["min"] <= results["margin"]["median"]
    assert _png(tmp_path / "r" / "figures" / "decision_regions.png")
    config = (tmp_path / "r" / "config.yaml").read_text()
    assert "depth: 4" in config and "width: 100" in config  # model=mlp_4x100 beats the recipe's 2 x 1000


def test_lattice_multiclass_arm_trains_on_discs_and_answers_in_parity(tmp_path, main_in_process):
    results = _run(main_in_process, tmp_path, "+experiment=lattice", "method=fine2coarse", *PLANAR_SHORT)
    assert results["label_set"] == "fine2coarse" and results["method"] == "fine2coarse"
    assert results["coarse_rule"] == "max" and results["attack"]["norm"] == "l2"  # App. C.3, Theorem 3
    import benign_lightning

    assert benign_lightning.load_model(tmp_path / "r").rule == "max"  # rebuilt with its read-out
    assert _png(tmp_path / "r" / "figures" / "decision_regions.png")
    assert (tmp_path / "r" / "figures" / "adv_err_vs_eps.png").exists()


def test_intervals_sweep_shows_theorem_2_through_aggregate(tmp_path, main_in_process):
    code, _, stderr = main_in_process("+experiment=intervals", "-m", "method=union_of_intervals,parity",
                                      "eta=0,0.2", "data.n_train=3000", "data.n_test=1000", "logger=none",
                                      "hydra.sweep.dir=s")  # fmt: skip
    assert code == 0, stderr[-3000:]
    found = aggregate(tmp_path / "s")
    assert found["complete"] == 4 and str(tmp_path / "s" / "err_vs_eta.png") in found["figures"]
    rows = {(r["method"], r["eta"]): r for r in map(read_json, (tmp_path / "s").glob("*/results.json"))}
    union, parity = rows[("union_of_intervals", 0.2)], rows[("parity", 0.2)]
    assert union["train_err"] == 0 and union["natural_err"] < 0.02 and union["adv_err"] > 0.5  # (ii)
    assert parity["train_err"] == pytest.approx(0.2)  # (i)
    assert parity["adv_err"] == parity["natural_err"] == 0
    assert rows[("parity", 0.0)]["parity_subset"] == parity["parity_subset"]  # the same hidden bits


def test_blobs_sweep_puts_1nn_beside_the_mlps(tmp_path, main_in_process):
    code, _, stderr = main_in_process("+experiment=blobs", "-m", "method=natural,nearest_neighbor",
                                      *PLANAR_SHORT, "hydra.sweep.dir=s")  # fmt: skip
    assert code == 0, stderr[-3000:]
    rows = {r["method"]: r for r in map(read_json, (tmp_path / "s").glob("*/results.json"))}
    exact = rows["nearest_neighbor"]
    assert exact["attack"]["name"] == "exact" and exact["train_err"] == 0 and exact["min_margin_exact"] > 0
    assert rows["natural"]["attack"]["name"] == "pgd"
    found = aggregate(tmp_path / "s")
    assert _png(tmp_path / "s" / "decision_regions.png")  # both runs' regions, side by side
    assert str(tmp_path / "s" / "decision_regions.png") in found["figures"]


def test_wang2024_trains_at_alpha_times_mu_and_keeps_the_loss_curve(tmp_path, main_in_process):
    results = _run(main_in_process, tmp_path, "+experiment=wang2024", "alpha_frac=0.5", "data.mu_norm=4",
                   "data.d=30", "model.kwargs.width=40", "data.n_test=200", "trainer.max_epochs=3",
                   "train_attack.steps=3", "attack.steps=5", "attack.restarts=1", "logger=none",
                   *QUIET)  # fmt: skip
    assert results["eps"] == 2.0 and results["attack"]["norm"] == "l2"  # alpha = 0.5 * ||mu||
    assert len(results["train_loss_by_epoch"]) == 3 and results["final_train_loss"] > 0
    # checkpoint_every_n_epochs=100, but the run's last weights are what last.ckpt holds
    import torch

    ckpt = torch.load(tmp_path / "r" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["epoch"] == 3 and ckpt["train_loss_by_epoch"] == results["train_loss_by_epoch"]


def test_repr_pca_saves_activations_and_draws_figure_3(tmp_path, main_in_process):
    results = _run(main_in_process, tmp_path, "+experiment=repr_pca", "representations.epochs=[1]",
                   "representations.n_points=50", "representations.steps=3", "trainer.max_epochs=2",
                   "data.n_train=500", "data.n_test=200", "attack.steps=3", "logger=none",
                   *QUIET)  # fmt: skip
    summary = results["representations"]
    with np.load(tmp_path / "r" / "representations.npz") as saved:
        keys = set(saved.files)
        assert saved["epoch_1_clean"].shape == (50, 512) and saved["epoch_1_mislabelled"].shape[0] == 50
        assert set(np.unique(saved["epoch_1_adversarial_label"])) <= {0, 1}
    assert {"epoch_1_clean", "epoch_2_adversarial", "epoch_2_mislabelled_label"} <= keys
    assert set(summary["nearer_other_class"]) == {"epoch_1", "epoch_2"}
    assert 0 <= summary["nearer_other_class"]["epoch_2"]["mislabelled"] <= 1
    assert _png(tmp_path / "r" / summary["figure"])


def test_aggregate_plots_errors_against_any_swept_key(tmp_path, main_in_process):
    code, _, stderr = main_in_process("+experiment=wang2024", "-m", "alpha_frac=0,1", "data.d=10",
                                      "model.kwargs.width=10", "data.n_test=50", "trainer.max_epochs=1",
                                      "train_attack.steps=2", "attack.steps=2", "attack.restarts=1",
                                      "attack.checks=none", "logger=none", *QUIET,
                                      "hydra.sweep.dir=s")  # fmt: skip
    assert code == 0, stderr[-3000:]
    found = aggregate(tmp_path / "s", x="alpha_frac")
    assert str(tmp_path / "s" / "err_vs_alpha_frac.png") in found["figures"]
    assert "final_train_loss" in (tmp_path / "s" / "summary.csv").read_text().splitlines()[0]
    # scripts/wang2024_check.py: the signal-direction attack on the same runs
    spec = importlib.util.spec_from_file_location("wang2024_check", REPO / "scripts" / "wang2024_check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    assert check.main([str(tmp_path / "s"), "--json", str(tmp_path / "c.json")]) == 0
    rows = read_json(tmp_path / "c.json")
    assert [r["alpha_frac"] for r in rows] == [0.0, 1.0]
    assert rows[0]["signal_direction_adv_err"] == rows[0]["natural_err"]  # alpha = 0: no move
