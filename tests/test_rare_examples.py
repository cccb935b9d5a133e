"""Figures 1 and 4: the claims on constructed results (a wrong result fails, a faithful one holds).
The figures from real runs at smoke scale: tests/test_reproduce.py (the one ``reproduce all`` run)."""

from __future__ import annotations

import json

from benign_lightning.reproduce import registry as reg
from benign_lightning.reproduce.report import FAILS, HOLDS, TOO_FEW, check_claims
from benign_lightning.reproduce.results import Results


def _verdicts(tmp_path, entry, figure1=None, figure4=None, scale="paper"):
    return {v.id: v.verdict for v in _judged(tmp_path, entry, figure1, figure4, scale)}


def _judged(tmp_path, entry, figure1, figure4, scale):
    job = tmp_path / "mem" / "0_job"
    job.mkdir(parents=True, exist_ok=True)
    (job / "rare_examples.json").write_text(json.dumps({"figure1": figure1, "figure4": figure4}))
    return check_claims(entry, Results({"mem": tmp_path / "mem"}), None, scale)


FIG1 = {"n_train": 2000, "n_robust_unfit": 90, "n_robust_unfit_natural_fit": 80, "n_shown": 24,
        "n_shown_natural_fits": 24,
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


def test_below_the_paper_scale_the_numbers_are_shown_but_not_judged(tmp_path):
    """12 members (the CPU scale) are too few to rank the points these claims speak of."""
    (fig1,) = _judged(tmp_path, reg.FIG1, FIG1, None, "cpu")
    assert fig1.verdict.startswith("not judged at the cpu scale") and "memorization score" in fig1.ours
    assert all(v.verdict.startswith("not judged") for v in _judged(tmp_path, reg.FIG4, None, FIG4, "cpu"))

