"""Per-epoch curves (callbacks/curves.py): what they record agrees with the final evaluation of the
same weights, they survive a resume, they reach the loggers and the figures, and a bad use is
refused. Their DDP form is checked in test_ddp.py (2 gloo ranks against 1 process)."""

from __future__ import annotations

import csv

import pytest
from conftest import QUIET, read_json

from benign_lightning.aggregate import aggregate
from benign_lightning.callbacks.curves import fixed_test_rows

# toy-MNIST (σ² = 0.5, η = 0.2), AT at a small ε: fits the clean points, leaves the flipped ones.
TOY_AT = [*QUIET, "method=at", "eps=0.1", "eta=0.2", "data.n_train=300", "data.n_test=80",
          "trainer.min_epochs=null", "stop_at_zero_train_err=false", "train_attack.steps=3",
          "attack.steps=5", "attack.restarts=1", "attack.checks=none", "trainer.accelerator=cpu",
          "curves.enabled=true", "curves.every_n_epochs=2", "curves.n_test=500", "figures=true"]  # fmt: skip


def test_curves_agree_with_the_final_evaluation(tmp_path, main_in_process):
    """The curves' last point is the final model's: its training error on the given labels, the
    noise it fits and (the subset being the whole test set here) its natural test error are the
    evaluation's own numbers; a curve computed on other rows or labels would miss them."""
    code, _, stderr = main_in_process(*TOY_AT, "trainer.max_epochs=3", "hydra.run.dir=run")
    assert code == 0, stderr[-3000:]
    r = read_json(tmp_path / "run" / "results.json")
    assert r["curve_epochs"] == [1, 2, 3] and r["curve_adv_epochs"] == [2, 3]
    for stem in ("train_err", "train_err_clean", "noise_fit", "test_err"):
        assert len(r[f"{stem}_by_epoch"]) == 3, stem
    assert len(r["test_adv_err_by_epoch"]) == 2
    assert r["train_err_by_epoch"][-1] == pytest.approx(r["train_err"], abs=1e-6)
    assert r["noise_fit_by_epoch"][-1] == pytest.approx(r["noisy_fit"], abs=1e-6)
    assert r["test_err_by_epoch"][-1] == pytest.approx(r["natural_err"], abs=1e-6)
    # An attack ran: at ε = 0.1 on toy-MNIST's clean test set the robust error is above the natural one
    # only through points it flips, and never below it.
    assert all(a >= n for a, n in zip(r["test_adv_err_by_epoch"], r["test_err_by_epoch"][1:], strict=True))
    assert r["curves"]["n_test"] == 80 and r["curves"]["attack"].startswith("PGD-10 (linf, ε = 0.1")
    assert 0 < r["curves"]["share_of_fit"] < 1
    assert (tmp_path / "run" / "figures" / "curves.png").stat().st_size > 0
    logged = next((tmp_path / "run").rglob("metrics.csv"))
    with logged.open() as f:
        rows = list(csv.DictReader(f))
    assert sum(bool(row.get("curves/test_adv_err")) for row in rows) == 2  # every logger gets them

    # A resumed run continues the curves where the checkpoint left them.
    code, _, stderr = main_in_process(*TOY_AT, "trainer.max_epochs=4", "hydra.run.dir=run")
    assert code == 0, stderr[-3000:]
    resumed = read_json(tmp_path / "run" / "results.json")
    assert resumed["resumed"] and resumed["curve_epochs"] == [1, 2, 3, 4]
    # The first session's logged rows are kept beside the new ones (Lightning's CSV logger would
    # delete them).
    with (logged.parent / "metrics.session1.csv").open() as f:
        assert sum(bool(row.get("curves/test_adv_err")) for row in csv.DictReader(f)) == 2
    with logged.open() as f:
        assert sum(bool(row.get("curves/test_adv_err")) for row in csv.DictReader(f)) == 1  # epoch 4
    assert resumed["train_err_by_epoch"][:3] == r["train_err_by_epoch"]
    assert resumed["curve_adv_epochs"] == [2, 3, 4]

    # aggregate draws them for a sweep folder.
    found = aggregate(tmp_path)
    assert str(tmp_path / "curves.png") in found["figures"]


def test_the_test_rows_are_fixed():
    a, b = fixed_test_rows(10_000, 500), fixed_test_rows(10_000, 500)
    assert a.equal(b) and len(a.unique()) == 500 and bool((a[1:] > a[:-1]).all())
    assert fixed_test_rows(80, 500).equal(fixed_test_rows(80, 80))


def test_curves_with_an_ensemble_are_refused(tmp_path, main_in_process):
    code, _, stderr = main_in_process("curves.enabled=true", "ensemble.size=2", "hydra.run.dir=x")
    assert code == 2
    assert "ensemble.size=2 with curves.enabled=true: the per-epoch curves are one model's" in stderr
