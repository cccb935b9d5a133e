"""Theorem 2's two representations on data=intervals: the parity learner recovers the hidden bits
(from clean labels, and from noisy ones at the theorem's sample size), the union of intervals fits
every noisy label, and their exact adversarial errors agree with a brute-force search."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benign_lightning.data.planar import IntervalsDataModule
from benign_lightning.exact.intervals import Parity, UnionOfIntervals, solve_gf2, theorem2_table
from benign_lightning.theory import main


def _data(eta: float, n_train: int, bits: int = 4, subset=(0, 2), seed: int = 0):
    dm = IntervalsDataModule(
        bits=bits, subset=list(subset), eta=eta, n_train=n_train, n_test=2000, data_seed=seed
    )
    dm.setup()
    return dm, dm.train.x.numpy().ravel(), dm.train.y.numpy()


def test_gf2_elimination_solves_and_detects_inconsistency():
    a = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0]], dtype=np.uint8)
    s = np.array([1, 0, 1], dtype=np.uint8)
    assert (a @ solve_gf2(a, a @ s % 2) % 2 == a @ s % 2).all()
    assert solve_gf2(np.array([[1, 0], [1, 0]]), np.array([0, 1])) is None


def test_parity_recovers_the_hidden_bits_from_clean_labels():
    dm, x, y = _data(0.0, 500, bits=6, subset=(1, 3, 4))
    assert Parity(6).fit(x, y).subset_bits == [1, 3, 4]


def test_parity_recovers_them_with_noise_at_the_theorems_sample_size():
    # Lemma 6: a cell's majority is right w.p. >= 1 - delta1 once it holds 8(1 - eta) / (1 - 2 eta)^2
    # log(1 / delta1) samples; with delta1 = delta / |zeta| for all |zeta| = 15 cells at once, and
    # Lemma 5's 2|zeta| k + 2|zeta| log(|zeta| / delta) draws per cell so that each has k.
    eta, delta, cells = 0.1, 0.05, 15
    k = math.ceil(8 * (1 - eta) / (1 - 2 * eta) ** 2 * math.log(cells / delta))
    m = cells * (2 * cells * k + math.ceil(2 * cells * math.log(cells / delta)))
    dm, x, y = _data(eta, m)
    assert int(dm.noise.corrupted.sum()) == round(eta * m)
    parity = Parity(4).fit(x, y)
    assert parity.subset_bits == [0, 2]
    assert (parity.predict(x) != y).mean() == pytest.approx(eta, abs=1e-9)  # leaves exactly the noise unfit


def test_union_of_intervals_fits_every_noisy_label_and_majority_elsewhere():
    dm, x, y = _data(0.2, 3000)
    union = UnionOfIntervals().fit(x, y)
    assert (union.predict(x) == y).all()
    xt, yt = dm.test.x.numpy().ravel(), dm.test.y.numpy()
    assert (union.predict(xt) != yt).mean() <= 0.01


@pytest.mark.parametrize("gamma", [0.01, 0.05, 0.2])
def test_exact_adversarial_errors_match_a_brute_force_search(gamma):
    dm, x, y = _data(0.1, 300)
    xt, yt = dm.test.x.numpy().ravel()[:300], dm.test.y.numpy()[:300]
    union, parity = UnionOfIntervals().fit(x, y), Parity(4).fit(x, y)
    grid = np.linspace(-gamma, gamma, 401)
    for model in (union, parity):
        brute = np.zeros(len(xt), dtype=bool)
        for k, (v, label) in enumerate(zip(xt, yt, strict=True)):
            # the grid, and the measure-zero exceptions (training points) within reach
            near = x[np.abs(x.astype(np.float64) - float(v)) <= gamma]
            candidates = np.concatenate([float(v) + grid, near.astype(np.float64)])
            brute[k] = (model.predict(candidates) != label).any()
        assert (model.adversarially_wrong(xt, yt, gamma) == brute).all()


def test_theorem2_table_shows_both_halves():
    rows = theorem2_table(lambda eta: _data(eta, 5000)[0], [0.0, 0.1], gamma=0.1)
    clean, noisy = rows
    assert clean["union_adv_err"] == 0 and clean["parity_adv_err"] == 0
    # (ii) union: zero training error, low test error, high adversarial error;
    assert noisy["union_train_err"] == 0 and noisy["union_test_err"] <= 0.01 and noisy["union_adv_err"] > 0.5
    # (i) parity: training error = eta, test and adversarial error 0.
    assert (
        noisy["parity_train_err"] == pytest.approx(0.1)
        and noisy["parity_adv_err"] == noisy["parity_test_err"] == 0
    )


def test_cli(capsys):
    assert main(["thm2", "--etas", "0", "0.1", "--n-train", "3000", "--n-test", "500"]) == 0
    out = capsys.readouterr().out
    assert "| 0.1 | 0.000 / " in out and "hidden bits [0, 2]" in out
