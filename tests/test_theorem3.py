"""Theorem 3 exactly (exact/lattice.py): the closed forms against sampling, Lemma 1's bound on every
linear separator, Lemma 2's robust staircase, and the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benign_lightning.exact.lattice import (
    GAMMA0,
    LEMMA1_BOUND,
    RHO,
    Lattice,
    best_linear_separator,
    linear_adversarial_error,
    staircase_adversarial_error,
)
from benign_lightning.theory import main


def _sampled(lattice: Lattice, n: int = 200_000, seed: int = 0):
    """Points uniform in the discs (each disc 1/(2k) of the mass) and their labels."""
    rng = np.random.default_rng(seed)
    which = rng.integers(0, 2 * lattice.k, n)
    angle, radius = rng.uniform(0, 2 * math.pi, n), lattice.radius * np.sqrt(rng.uniform(0, 1, n))
    x = lattice.centres[which] + np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    return x, lattice.labels[which]


@pytest.mark.parametrize("gamma", [0.0, 0.03, 0.1, 0.2])
def test_a_linear_classifiers_exact_error_matches_sampling(gamma):
    lattice, w, w0 = Lattice(5, 0.35), np.array([-1.0, 1.0]), -0.5
    x, y = _sampled(lattice)
    distance = (x @ w + w0) / np.linalg.norm(w)  # signed, positive on label 1's side
    wrong = np.where(y == 1, distance < gamma, -distance < gamma)  # within gamma of, or across, the line
    assert linear_adversarial_error(lattice, w, w0, gamma) == pytest.approx(wrong.mean(), abs=0.004)


@pytest.mark.parametrize("gamma", [0.1, 0.16, 0.2, 0.3])
def test_the_staircases_exact_error_matches_sampling(gamma):
    """g_1 errs within gamma of a line x_i = n + 1/2 (the cell edges around each disc)."""
    lattice = Lattice(5, 0.35)
    x, _ = _sampled(lattice)
    offset = np.abs(x - np.round(x))  # each coordinate's distance from its cell's centre line
    wrong = (0.5 - offset.max(1)) < gamma
    assert staircase_adversarial_error(lattice, gamma) == pytest.approx(wrong.mean(), abs=0.004)


def test_lemma_1_and_lemma_2_hold_exactly_on_the_lattice():
    """Discs of radius rho: every separating line errs on more than 0.0005 for gamma > gamma0 = 0.02
    (checked on the best one found), while the staircase has no adversarial error up to gamma0 + 1/8."""
    lattice = Lattice(5, RHO)
    for gamma in (GAMMA0 + 0.001, 0.05, GAMMA0 + 1 / 8):
        assert best_linear_separator(lattice, gamma)["adv_err"] > LEMMA1_BOUND
        assert staircase_adversarial_error(lattice, gamma) == 0.0
    # A wrong bound fails: at gamma = 0.2 the staircase is no longer robust, and a line at gamma = 0
    # (natural error) has none.
    assert staircase_adversarial_error(lattice, 0.2) > 0.05
    assert best_linear_separator(lattice, 0.0)["adv_err"] == 0.0


def test_the_best_separator_is_at_least_as_good_as_the_diagonal_by_hand():
    """The diagonal line x2 - x1 = 1/2 is one separator: the search can only do as well or better."""
    lattice = Lattice(5, 0.35)
    diagonal = linear_adversarial_error(lattice, np.array([-1.0, 1.0]), -0.5, 0.05)
    assert best_linear_separator(lattice, 0.05)["adv_err"] <= diagonal + 1e-12


def test_cli(capsys):
    assert main(["thm3", "--gammas", "0.05", "0.2", "--w", "-1", "1", "--w0", "-0.5"]) == 0
    out = capsys.readouterr().out
    assert "| 0.05 |" in out and "holds" in out and "| yours |" in out


def test_the_lattice_entry_judges_theorem_3_on_its_runs_lattice(tmp_path):
    """The claims read the runs' k, radius and grid: radius 0.35 (≥ rho) holds both; discs of radius
    0.2 (below rho) are not judged for Lemma 1, and a grid reaching 0.2 still judges g_1 below 0.145."""
    import json

    import yaml

    from benign_lightning.reproduce import registry
    from benign_lightning.reproduce.report import HOLDS, check_claims
    from benign_lightning.reproduce.results import Results

    def sweep(name, radius):
        folder = tmp_path / name / "0_job"
        (folder / ".hydra").mkdir(parents=True)
        (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["method=at"]))
        (folder / "config.yaml").write_text(yaml.safe_dump({"data": {"k": 5, "radius": radius}, "seed": 0}))
        curve = {"0.0": 0.0, "0.05": 0.1, "0.1": 0.2, "0.2": 0.4}
        (folder / "results.json").write_text(json.dumps({"status": "complete", "method": "at",
                                                         "adv_err_by_eps": curve}))  # fmt: skip
        return tmp_path / name

    checked = check_claims(registry.FIG9A, Results({"arms": sweep("r35", 0.35)}), None, "cpu")
    found = {v.id: v for v in checked}
    assert found["Theorem 3 (i), exactly"].verdict == HOLDS
    assert found["Theorem 3 (ii), exactly"].verdict == HOLDS and "γ=0.2: 0.1268" in found[
        "Theorem 3 (ii), exactly"].ours  # fmt: skip
    small = {v.id: v for v in check_claims(registry.FIG9A, Results({"arms": sweep("r20", 0.2)}), None, "cpu")}
    assert small["Theorem 3 (i), exactly"].verdict.startswith("not run: Lemma 1 speaks of discs of radius ≥")


def test_lemma1_needs_two_discs_of_each_label():
    """At k = 1 the line between the two discs keeps a clear margin: the exact error of that line is 0
    at γ = 0.1 > γ₀, so Lemma 1 (stated for k ∈ Z⁺) is not judged there."""
    from benign_lightning.exact.lattice import lemma1_applies

    one = Lattice(1, RHO)
    best = best_linear_separator(one, 0.1)
    assert best["adv_err"] == 0.0 and not lemma1_applies(one, 0.1)
    assert lemma1_applies(Lattice(2, RHO), 0.1)


def test_lemma2_speaks_only_of_narrow_discs_and_small_budgets():
    from benign_lightning.exact.lattice import lemma2_applies

    assert lemma2_applies(Lattice(5, RHO), 0.1) and lemma2_applies(Lattice(5, RHO), GAMMA0 + 1 / 8)
    assert not lemma2_applies(Lattice(5, RHO), 0.2)  # beyond γ0 + 1/8
    assert not lemma2_applies(Lattice(5, 0.4), 0.1)  # 0.4 + 0.145 ≥ 1/2: balls leave their cell
