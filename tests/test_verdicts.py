"""Each claim check fails on a constructed wrong result and holds on a faithful one, on run folders
as the app leaves them (results.json, .hydra/overrides.yaml, config.yaml, eval_<name>.json)."""

from __future__ import annotations

import itertools
import json

import pytest
import yaml

from benign_lightning.reproduce import registry as reg
from benign_lightning.reproduce.figures.table1 import TABLE1_PAPER
from benign_lightning.reproduce.report import FAILS, HOLDS, NOT_JUDGED, TOO_FEW, check_claims, tally
from benign_lightning.reproduce.results import Results

_counter = itertools.count()


def job(sweep, overrides: dict, results: dict, **evals: dict) -> None:
    """One finished job folder of ``sweep``: its overrides, results.json and eval_<name>.json files."""
    folder = sweep / f"{next(_counter)}_job"
    (folder / ".hydra").mkdir(parents=True)
    overrides_yaml = yaml.safe_dump([f"{k}={v}" for k, v in overrides.items()])
    (folder / ".hydra" / "overrides.yaml").write_text(overrides_yaml)
    (folder / "config.yaml").write_text(yaml.safe_dump({"seed": results.get("seed", 0)}))
    (folder / "results.json").write_text(json.dumps({"status": "complete", "seed": 0, **results}))
    for name, record in evals.items():
        (folder / f"eval_{name}.json").write_text(json.dumps(record))


def verdicts(entry, sweeps: dict, scale: str = "cpu") -> dict[str, str]:
    checked = check_claims(entry, Results(sweeps), None, scale)
    return {v.id: v.verdict for v in checked}


def one(entry, claim_id: str, sweeps: dict, scale: str = "cpu") -> str:
    return verdicts(entry, sweeps, scale)[claim_id]


# --- Figure 2a: each reading judged on its own ------------------------------------------------------
def _toy(tmp_path, name, rows, reading=None):
    """rows: (η, train, test, adv); the paper's attack's numbers in eval_paper_attack.json."""
    sweep = tmp_path / name
    for eta, train, test, adv in rows:
        record = {"natural_err": test, "adv_err": adv}
        evals = {reading: record} if reading else {}
        job(sweep, {"eta": eta, "data.sigma2": 0.5},
            {"eta": eta, "train_err": train, "natural_err": test, "adv_err": adv if not reading else 0.0},
            **evals)  # fmt: skip
    return sweep


def test_fig2a_high_variance_needs_the_noise_fitted_and_the_adversarial_error_rising_more(tmp_path):
    claim = "sigma2=0.5"
    flat = _toy(tmp_path, "flat", [(0, 0.0, 0.01, 0.30), (0.2, 0.0, 0.08, 0.35)])  # adv rises less than 0.1
    unfitted = _toy(tmp_path, "unfit", [(0, 0.0, 0.0, 0.3), (0.2, 0.15, 0.05, 0.9)])  # the noise not fitted
    faithful = _toy(tmp_path, "rise", [(0, 0.0, 0.0, 0.45), (0.2, 0.0, 0.09, 1.0)])
    assert one(reg.FIG2A, claim, {"toy": flat}) == FAILS
    assert one(reg.FIG2A, claim, {"toy": unfitted}) == FAILS
    assert one(reg.FIG2A, claim, {"toy": faithful}) == HOLDS
    # The paper's attack is its own verdict, read from eval_paper_attack.json: the main reading's
    # numbers are 0 here, so only the re-evaluation can make it hold.
    paper = _toy(tmp_path, "paper", [(0, 0.0, 0.0, 0.45), (0.2, 0.0, 0.09, 1.0)], reading="paper_attack")
    found = verdicts(reg.FIG2A, {"toy": paper})
    assert found["sigma2=0.5 [paper_attack]"] == HOLDS and found[claim] == FAILS
    assert found["sigma2=0.5 [clamped]"].startswith("not run: ") and "eval_clamped.json" in found[
        "sigma2=0.5 [clamped]"]  # fmt: skip


def test_fig2a_claims_quote_the_paper_and_name_their_reading():
    by_id = {c.id: c for c in reg.FIG2A.claims}
    assert "This brings the training error down to zero, while causing the test error to increase, and the " \
        "adversarial error even more so." in by_id["sigma2=0.5"].source  # fmt: skip
    assert "Remark 1" in by_id["sigma2=0.3"].source and "Remark 1" not in by_id["sigma2=0.5"].source
    assert "rises from ≈ 0" not in str(reg.FIG2A.paper_numbers)
    assert {"sigma2=0.1 [normalised]", "sigma2=0.1 [three_hidden]", "sigma2=0.1 [fixed_cap]"} <= set(by_id)


# --- Figure 2b: the jump only counts on models that fitted their noise ------------------------------
def _mnist(tmp_path, name, train_at_02):
    sweep = tmp_path / name
    for eta, train, test, adv in ((0, 0.0, 0.02, 0.10), (0.2, train_at_02, 0.05, 0.70)):
        job(sweep, {"eta": eta}, {"eta": eta, "train_err": train, "natural_err": test,
                                  "adv_err_by_eps": {"0.05": adv / 2, "0.1": adv}})  # fmt: skip
    return sweep


def test_fig2b_requires_the_noise_fitted(tmp_path):
    assert one(reg.FIG2B, "jump", {"mnist": _mnist(tmp_path, "under", 0.18)}) == FAILS  # under-trained
    assert one(reg.FIG2B, "jump", {"mnist": _mnist(tmp_path, "fit", 0.005)}) == HOLDS


# --- Figures 2c-e: judged where the curve can rise ---------------------------------------------------
def _cifar(tmp_path, name, curves):
    sweep = tmp_path / name
    for eta, test, curve in curves:
        job(sweep, {"eta": eta, "arch": "resnet18"}, {"eta": eta, "arch": "resnet18", "natural_err": test,
                                                       "adv_err_by_eps": curve})  # fmt: skip
    return sweep


def test_fig2c_e_is_judged_below_saturation(tmp_path):
    saturated = _cifar(tmp_path, "sat", [(0, 0.05, {"0.0314": 0.99}), (0.2, 0.1, {"0.0314": 1.0})])
    assert one(reg.FIG2CDE, "rise", {"cifar": saturated}).startswith("not run: resnet18")
    rising = _cifar(tmp_path, "rise", [(0, 0.05, {"0.0039": 0.3, "0.0314": 0.99}),
                                       (0.2, 0.1, {"0.0039": 0.7, "0.0314": 1.0})])  # fmt: skip
    flat = _cifar(tmp_path, "flat", [(0, 0.05, {"0.0039": 0.3, "0.0314": 0.99}),
                                     (0.2, 0.1, {"0.0039": 0.32, "0.0314": 1.0})])  # fmt: skip
    assert one(reg.FIG2CDE, "rise", {"cifar": rising}) == HOLDS
    assert one(reg.FIG2CDE, "rise", {"cifar": flat}) == FAILS


# --- Figure 3: against chance for the pool drawn -----------------------------------------------------
def _repr(tmp_path, name, beside, chance):
    sweep = tmp_path / name
    snapshot = {"epoch_20": {"adversarial_nearest_is_mislabelled": beside,
                             "adversarial_nearest_chance": chance}}  # fmt: skip
    job(sweep, {}, {"representations": {"nearer_other_class": snapshot}, "fit_epoch_median_clean": 1,
                    "fit_epoch_median_noisy": 5})  # fmt: skip
    return sweep


@pytest.mark.parametrize("beside,chance,verdict", [(0.6, 0.25, HOLDS), (0.45, 0.2, FAILS), (0.6, 0.4, FAILS)])
def test_fig3_beats_chance_and_is_the_bulk(tmp_path, beside, chance, verdict):
    assert one(reg.FIG3, "beside", {"repr": _repr(tmp_path, "r", beside, chance)}) == verdict


# --- §3.2: the paper's regime, and an untrained model fails ------------------------------------------
def _methods(tmp_path, name, at):
    sweep = tmp_path / name
    job(sweep, {"method": "natural"}, {"method": "natural", "train_err": 0.0})
    n_errors, hits, noisy_fit = at
    job(sweep, {"method": "at"}, {"method": "at", "n_train_errors": n_errors, "n_noisy": 135, "n_train": 1000,
                                  "n_train_errors_mislabelled": hits, "noisy_fit": noisy_fit})  # fmt: skip
    return sweep


@pytest.mark.parametrize("at,verdict", [
    ((900, 130, 0.04), FAILS),  # not trained: everything unfit
    ((20, 20, 0.30), FAILS),  # precise, but it fitted little of the noise: not the paper's regime
    ((40, 30, 0.78), FAILS),  # a quarter of its errors clean
    ((16, 16, 0.88), HOLDS),  # the paper's picture: most noise fitted, the rest its errors
])  # fmt: skip
def test_sec32_judges_the_error_count_noise_fit_clean_unfit_and_precision(tmp_path, at, verdict):
    assert one(reg.SEC32, "at", {"methods": _methods(tmp_path, "m", at)}) == verdict


# --- Table 1: the paper's numbers, at the paper's scale only ----------------------------------------
def _l2(tmp_path, name, shift):
    sweep = tmp_path / name
    for eps, (train, test) in TABLE1_PAPER.items():
        job(sweep, {"eps": eps}, {"eps": eps, "train_err": 1 - (train - shift) / 100,
                                  "natural_err": 1 - (test - shift) / 100})  # fmt: skip
    return sweep


def test_table1_compares_with_the_papers_numbers_within_the_tolerance(tmp_path):
    close, far = _l2(tmp_path, "close", 1.0), _l2(tmp_path, "far", 3.0)
    assert one(reg.TABLE1, "numbers", {"l2": close}, "paper") == HOLDS
    assert one(reg.TABLE1, "numbers", {"l2": far}, "paper") == FAILS
    assert one(reg.TABLE1, "numbers", {"l2": close}, "cpu").startswith(f"{NOT_JUDGED} at the cpu scale")
    assert one(reg.TABLE1, "falling", {"l2": far}, "cpu") == HOLDS


# --- Figures 9b/9c: strictly lower where not saturated -----------------------------------------------
def _arms(tmp_path, name, fine, coarse):
    sweep = tmp_path / name
    for method, curve in (("fine2coarse", fine), ("coarse", coarse)):
        job(sweep, {"method": method}, {"method": method, "adv_err_by_eps": curve})
    return sweep


def test_fig9b_ties_at_saturation_do_not_pass(tmp_path):
    both_saturated = _arms(tmp_path, "sat", {"0.1": 1.0, "0.2": 1.0}, {"0.1": 1.0, "0.2": 1.0})
    tie = _arms(tmp_path, "tie", {"0.1": 0.5, "0.2": 1.0}, {"0.1": 0.5, "0.2": 1.0})
    lower = _arms(tmp_path, "low", {"0.1": 0.4, "0.2": 1.0}, {"0.1": 0.6, "0.2": 1.0})
    assert one(reg.FIG9B, "fine2coarse", {"arms": both_saturated}) == FAILS
    assert one(reg.FIG9B, "fine2coarse", {"arms": tie}) == FAILS
    assert one(reg.FIG9B, "fine2coarse", {"arms": lower}) == HOLDS
    assert "Figure 9 caption" in reg.FIG9C.claims[0].source


# --- Figure 7: over seeds, the spread reported ------------------------------------------------------
def test_fig7_says_on_how_many_seeds_it_holds(tmp_path):
    sweep = tmp_path / "circles"
    for seed, at_lost in ((0, 2), (1, 0), (2, 3)):
        for method, lost in (("natural", 0), ("at", at_lost)):
            by_size = {"0.3": {"groups_lost": lost, "groups": 8}, "1.2": {"groups_lost": 0, "groups": 3}}
            job(sweep, {"method": method, "model": "mlp_4x100", "seed": seed},
                {"method": method, "seed": seed, "train_err_by_group_size": by_size})  # fmt: skip
    checked = {v.id: v for v in check_claims(reg.FIG7, Results({"circles": sweep}), None, "cpu")}
    assert checked["small discs"].verdict == f"{HOLDS} on 2 of 3 seeds"
    assert "seed 1: mlp_4x100: small discs lost natural 0 of 8, AT 0 of 8" in checked["small discs"].ours
    assert "layout is ours" in " ".join(reg.FIG7.notes)


def test_the_printed_tally_counts_not_run_and_partial_claims_apart(tmp_path):
    """A figure whose data is missing must not print "0 of N claims hold" (read: N failures)."""
    not_run = check_claims(reg.FIG7, None, "CIFAR-10 not found in data/", "cpu")
    assert tally(not_run) == f"{len(reg.FIG7.claims)} not run (of {len(reg.FIG7.claims)} claims)"
    sweep = tmp_path / "circles"
    for seed, at_lost in ((0, 2), (1, 0)):
        for method, lost in (("natural", 0), ("at", at_lost)):
            by_size = {"0.3": {"groups_lost": lost, "groups": 8}, "1.2": {"groups_lost": 0, "groups": 3}}
            job(sweep, {"method": method, "model": "mlp_4x100", "seed": seed},
                {"method": method, "seed": seed, "train_err_by_group_size": by_size})  # fmt: skip
    counted = tally(check_claims(reg.FIG7, Results({"circles": sweep}), None, "cpu"))
    assert counted == "1 hold on some seeds, 1 does not hold (of 2 claims)"


# --- Figure 5b: too few points ----------------------------------------------------------------------
def test_fig5b_on_too_few_misclassified_points_is_not_judged(tmp_path):
    mem = tmp_path / "mem" / "0_job"
    mem.mkdir(parents=True)
    summary = {"mem_mean_robust_unfit": 0.4, "mem_mean": 0.05, "n_robust_unfit": 100, "models": 12,
               "max_infl_mean_robust_test_wrong": 0.4, "max_infl_mean": 0.16, "n_robust_test_wrong": 2}
    (mem / "memorization_summary.json").write_text(json.dumps(summary))
    found = verdicts(reg.FIG5, {"mem": tmp_path / "mem"})
    assert found["5b"].startswith(f"{TOO_FEW}: 2 test points") and found["5a"] == HOLDS
    summary["n_robust_test_wrong"] = 47
    (mem / "memorization_summary.json").write_text(json.dumps(summary))
    assert verdicts(reg.FIG5, {"mem": tmp_path / "mem"})["5b"] == HOLDS


# --- Theorem 2: the theorem's bound ------------------------------------------------------------------
@pytest.mark.parametrize("adv,verdict", [(0.5, HOLDS), (0.05, FAILS)])
def test_thm2_union_is_judged_by_the_theorems_bound(tmp_path, adv, verdict):
    sweep = tmp_path / "exact"
    job(sweep, {"method": "union_of_intervals", "eta": 0.1},
        {"method": "union_of_intervals", "eta": 0.1, "train_err": 0.0, "natural_err": 0.0, "adv_err": adv})
    assert one(reg.THM2, "(ii) union", {"exact": sweep}) == verdict


# --- the machinery: a run evaluated again under the paper's attack; portable paths -------------------
def test_a_finished_run_is_evaluated_again_under_the_papers_attack(tmp_path):
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from benign_lightning.reproduce.reevaluate import attack_group, reevaluate
    from benign_lightning.run.job import run

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="benign_lightning.conf", version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "+experiment=toy_mnist", "data.n_train=200", "data.n_test=50", "trainer.max_epochs=2",
            "trainer.min_epochs=null", "attack.steps=3", "attack.checks=none", "logger=none",
            "trainer.enable_progress_bar=false"])  # fmt: skip
    GlobalHydra.instance().clear()
    results = run(cfg, tmp_path / "r")
    record = reevaluate(tmp_path / "r", "paper_attack", attack_group("paper_toy"))
    assert record["attack"]["steps"] == 400 and record["attack"]["step_size"] == 0.01
    assert record["attack"]["random_start"] is False and results["attack"]["steps"] == 3
    assert record["natural_err"] == results["natural_err"]  # the same model, another attack
    assert json.loads((tmp_path / "r" / "eval_paper_attack.json").read_text()) == record
    clamped = reevaluate(tmp_path / "r", "clamped", {"clamp": [0.0, 1.0]})
    assert clamped["attack"]["steps"] == 3  # our attack, inside [0, 1]


def test_reports_name_the_data_folder_as_the_user_sets_it(monkeypatch, tmp_path):
    from benign_lightning.reproduce.runner import portable

    monkeypatch.setenv("BENIGN_DATA_DIR", str(tmp_path))
    message = f"CIFAR10 not found: expected ... in {tmp_path.resolve()}/cifar-10-batches-py."
    assert portable(message) == "CIFAR10 not found: expected ... in $BENIGN_DATA_DIR/cifar-10-batches-py."
