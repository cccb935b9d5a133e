"""The claims read off per-epoch curves (robust overfitting; AT on random labels) fail on a
constructed wrong result and hold on a faithful one, on run folders as the app leaves them."""

from __future__ import annotations

import pytest
from test_verdicts import job, one

from benign_lightning.reproduce import registry as reg
from benign_lightning.reproduce.figures.shared import smoothed
from benign_lightning.reproduce.report import FAILS, HOLDS

EPOCHS = list(range(1, 31))


def _overfitting(best: float, final: float) -> list[float]:
    """Robust test error falling to ``best`` at epoch 10, then rising linearly to ``final``."""
    return [0.9 - (0.9 - best) * e / 10 if e <= 10 else best + (final - best) * (e - 10) / 20 for e in EPOCHS]


def _flat_noisy(level: float) -> list[float]:
    """No overfitting: a flat curve with ±0.025 epoch-to-epoch noise (a 1000-point test subset's)."""
    return [level + (0.025 if e % 2 else -0.025) * (1 if e % 3 else -1) for e in EPOCHS]


def _ro(tmp_path, name, curves: dict[float, list[float]], remedy: float | None = None, final: float = 0.53):
    sweep = tmp_path / name
    for eta, curve in curves.items():
        job(sweep / "curves", {"eta": eta}, {"eta": eta, "adv_err": final, "test_adv_err_by_epoch": curve,
                                             "curve_adv_epochs": EPOCHS})  # fmt: skip
    sweeps = {"curves": sweep / "curves"}
    if remedy is not None:
        job(sweep / "remedy", {"early_stopping.enabled": True}, {"eta": 0.0, "adv_err": remedy})
        sweeps["remedy"] = sweep / "remedy"
    return sweeps


def test_robust_overfitting_needs_a_rise_beyond_the_noise(tmp_path):
    faithful = _ro(tmp_path, "a", {0.0: _overfitting(0.47, 0.54)})
    assert one(reg.ROBUST_OVERFITTING, "overfits", faithful) == HOLDS
    noisy = _flat_noisy(0.5)
    assert noisy[-1] - min(noisy) >= 0.03  # the raw curve's minimum would show a gap
    flat = _ro(tmp_path, "b", {0.0: noisy})
    assert one(reg.ROBUST_OVERFITTING, "overfits", flat) == FAILS


@pytest.mark.parametrize("gaps,verdict", [((0.05, 0.08, 0.12), HOLDS), ((0.08, 0.05, 0.04), FAILS),
                                          ((0.05, 0.05, 0.05), FAILS)])  # fmt: skip
def test_the_gap_must_grow_with_eta(tmp_path, gaps, verdict):
    curves = {eta: _overfitting(0.47, 0.47 + gap) for eta, gap in zip((0.0, 0.2, 0.4), gaps, strict=True)}
    assert one(reg.ROBUST_OVERFITTING, "gap grows with η", _ro(tmp_path, "g", curves)) == verdict


@pytest.mark.parametrize("remedy,verdict", [(0.47, HOLDS), (0.525, FAILS)])
def test_early_stopping_must_recover_the_best(tmp_path, remedy, verdict):
    sweeps = _ro(tmp_path, "r", {0.0: _overfitting(0.47, 0.54)}, remedy=remedy)
    assert one(reg.ROBUST_OVERFITTING, "early stopping", sweeps) == verdict


def test_smoothing_is_a_moving_mean():
    assert smoothed([1, 2, 3, 4, 5, 6], k=5) == [3, 4]
    assert smoothed([1, 2, 3], k=5) == [2]


def _arms(tmp_path, name, at_clean: float, at_random: list[float], trades_random: float):
    """Training error curves on the given labels: AT at η = 0 and 1, TRADES at η = 1."""
    sweeps = {"noisy": tmp_path / name / "noisy", "random": tmp_path / name / "random"}
    for method, eta, curve in (("at", 0.0, [0.5, 0.2, at_clean]), ("at", 1.0, at_random),
                               ("trades", 1.0, [0.9, 0.5, trades_random])):  # fmt: skip
        sweep = sweeps["random" if eta == 1.0 else "noisy"]
        job(sweep, {"method": method, "eta": eta}, {"method": method, "eta": eta, "train_err": curve[-1],
                                                    "train_err_by_epoch": curve})  # fmt: skip
    return sweeps


AT_CHANCE = [0.855] * 12
AT_SPIKES = [0.855] * 5 + [0.75] + [0.855] * 6  # one epoch at 0.25, as the MNIST CPU run had
AT_FITS_FOR_A_WHILE = [0.855] * 4 + [0.4] * 5 + [0.855] * 3  # 60% of the random labels fitted, 5 epochs


@pytest.mark.parametrize("at_clean,at_random,verdict", [
    (0.02, AT_CHANCE, HOLDS),  # fits clean labels, stays at chance on random ones (Dong et al.)
    (0.02, AT_SPIKES, HOLDS),  # a single epoch's fluctuation is not a fit
    (0.02, AT_FITS_FOR_A_WHILE, FAILS),  # fitted 60% of the random labels for 5 epochs
    (0.02, [0.9, 0.4, 0.4], FAILS),  # a short run that ends fitting them
    (0.9, AT_CHANCE, FAILS),  # fits nothing at all: the recipe failed, not the labels
])  # fmt: skip
def test_pgd_at_fails_on_random_labels_only_if_it_fits_clean_ones(tmp_path, at_clean, at_random, verdict):
    sweeps = _arms(tmp_path, "a", at_clean, at_random, 0.05)
    assert one(reg.MEMORIZATION_AT, "PGD-AT fails on random labels", sweeps) == verdict


@pytest.mark.parametrize("trades_random,verdict", [(0.05, HOLDS), (0.7, FAILS)])
def test_trades_memorises_random_labels(tmp_path, trades_random, verdict):
    sweeps = _arms(tmp_path, "t", 0.02, AT_CHANCE, trades_random)
    assert one(reg.MEMORIZATION_AT, "TRADES memorises random labels", sweeps) == verdict
