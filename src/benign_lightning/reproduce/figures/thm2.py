"""Theorem 2: one representation fits the noise and is not robust, another keeps both accuracies (§4,
Theorem 2 (App. A, B.3)): its sweeps per scale and its claims, each with the check that judges it."""

from __future__ import annotations

from benign_lightning.reproduce.entry import Claim, Entry, Sweep
from benign_lightning.reproduce.figures.shared import fmt3
from benign_lightning.reproduce.results import NoRuns, Results


def _union(r: Results) -> tuple[str, bool]:
    runs = [v for v in r.select("exact", method="union_of_intervals") if float(v.get("eta")) > 0]
    if not runs:
        raise NoRuns("no union-of-intervals run with η > 0")
    ours = "; ".join(
        f"η={float(v.get('eta')):g}: train {fmt3(v.get('train_err'))}, test {fmt3(v.get('natural_err'))}, "
        f"adv {fmt3(v.get('adv_err'))}"
        for v in runs
    )
    holds = all(
        v.get("train_err") <= 0.001 and v.get("natural_err") <= 0.01 and v.get("adv_err") >= 0.1 for v in runs
    )
    return ours, holds


def _parity(r: Results) -> tuple[str, bool]:
    runs = r.select("exact", method="parity")
    ours = "; ".join(
        f"η={float(v.get('eta')):g}: train {fmt3(v.get('train_err'))}, test {fmt3(v.get('natural_err'))}, "
        f"adv {fmt3(v.get('adv_err'))}"
        for v in runs
    )
    holds = all(
        abs(v.get("train_err") - float(v.get("eta"))) <= 0.02
        and v.get("natural_err") <= 0.01
        and v.get("adv_err") <= 0.01
        for v in runs
    )
    return ours, holds


THM2 = Entry(
    name="thm2",
    title="Theorem 2: one representation fits the noise and is not robust, another keeps both accuracies",
    section="§4, Theorem 2 (App. A, B.3)",
    sweeps={
        "smoke": (
            Sweep(
                "exact",
                (
                    "+experiment=intervals",
                    "-m",
                    "method=union_of_intervals,parity",
                    "eta=0,0.1",
                ),
            ),
        ),
        "cpu": (
            Sweep(
                "exact", ("+experiment=intervals", "-m", "method=union_of_intervals,parity", "eta=0,0.1,0.2")
            ),
        ),
        "paper": (
            Sweep(
                "exact",
                ("+experiment=intervals", "-m", "method=union_of_intervals,parity", "eta=0,0.05,0.1,0.2,0.3"),
            ),
        ),
    },
    claims=(
        Claim(
            "(ii) union",
            "Theorem 2 (ii): “there exist h ∈ H, h has zero training error on S_m,η, and R(h; P) = 0. "
            "However, for any γ > 0, and for any h ∈ H with zero training error on S_m,η, "
            "R_Adv,γ(h; P) ≥ 0.1.”",
            "union of intervals, η > 0: training error ≤ 0.001 (the noise fitted), test error ≤ 0.01, "
            "adversarial error (γ = eps) ≥ 0.1, the theorem's bound",
            _union,
        ),
        Claim(
            "(i) parity",
            "Theorem 2 (i): “the classifier c ∈ C that minimizes the training error on S_m,η, has "
            "R(c; P) = 0 and R_Adv,γ(c; P) = 0 for 0 ≤ γ < 1/4.”",
            "parity: training error within 0.02 of η (the noise not fitted), test and adversarial error "
            "≤ 0.01",
            _parity,
        ),
    ),
    cost={"smoke": "≈ 5 s, CPU", "cpu": "6 jobs, 20 s measured", "paper": "10 jobs, ≈ 2 min"},
)
