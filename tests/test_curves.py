"""Per-epoch curves (callbacks/curves.py): what they record agrees with the final evaluation of the
same weights, they survive a resume, they reach the loggers and the figures, and a bad use is
refused. Their DDP form is checked in test_ddp.py (2 gloo ranks against 1 process)."""

from __future__ import annotations

import csv

import pytest
from conftest import QUIET, read_json

from benign_lightning.aggregate import aggregate
from benign_lightning.callbacks.curves import fixed_test_rows

# toy-MNIST (σ² = 0.5, η = 0.2), AT at a small ε: by epoch 3 no test error, under attack too.
TOY_AT = [*QUIET, "method=at", "eps=0.1", "eta=0.2", "data.n_train=1000", "data.n_test=80",
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
    # An attack ran: the robust error is never below the natural one, and above it at epoch 2, where
    # the half-trained model has points within ε = 0.1 of its boundary (a curve that skipped the
    # attack would equal the natural one).
    pairs = list(zip(r["test_adv_err_by_epoch"], r["test_err_by_epoch"][1:], strict=True))
    assert all(a >= n for a, n in pairs) and any(a > n for a, n in pairs)
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


@pytest.mark.parametrize("stop", [
    ["stop_at_zero_train_err=true"],  # decided before the curves' hook, in the same epoch
    ["stop_at_zero_train_err=true", "trainer.min_epochs=4"],  # asked early, held until min_epochs
    ["early_stopping.enabled=true", "data.holdout=0.25", "early_stopping.patience=1",  # decided after it
     "early_stopping.min_delta=1", "early_stopping.steps=1", "early_stopping.restore_best=false"],
])  # fmt: skip
def test_a_run_that_stops_early_has_its_last_adversarial_point(tmp_path, main_in_process, stop):
    """The robust gap reads the last epoch's adversarial error: a run that stops before max_epochs,
    between two adversarial points, still gets one at the epoch it stopped."""
    run = ["method=natural", "eta=0", "trainer.max_epochs=30", "curves.every_n_epochs=50", "curves.n_test=40"]
    code, _, stderr = main_in_process(*TOY_AT, *run, *stop, "hydra.run.dir=run")
    assert code == 0, stderr[-3000:]
    r = read_json(tmp_path / "run" / "results.json")
    last = r["curve_epochs"][-1]
    assert last < 30 and r["curve_adv_epochs"] == [last] and len(r["test_adv_err_by_epoch"]) == 1
    if "trainer.min_epochs=4" in stop:
        assert last == 4 and r["stopped_at_zero_train_err"]


def test_the_test_rows_are_fixed():
    a, b = fixed_test_rows(10_000, 500), fixed_test_rows(10_000, 500)
    assert a.equal(b) and len(a.unique()) == 500 and bool((a[1:] > a[:-1]).all())
    assert fixed_test_rows(80, 500).equal(fixed_test_rows(80, 80))


def test_curves_with_an_ensemble_are_refused(tmp_path, main_in_process):
    code, _, stderr = main_in_process("curves.enabled=true", "ensemble.size=2", "hydra.run.dir=x")
    assert code == 2
    assert "ensemble.size=2 with curves.enabled=true: the per-epoch curves are one model's" in stderr
