"""Figure 2a: toy-MNIST, adversarial error rises with label noise once the noise is memorised (§3.1,
Figure 2a, Remark 1): its sweeps per scale and its claims, each with the check that judges it."""

from __future__ import annotations

from pathlib import Path

from benign_lightning.reproduce.entry import Check, Claim, Entry, Sweep
from benign_lightning.reproduce.figures.shared import SEEDS3, TOY_SMOKE, fmt3
from benign_lightning.reproduce.results import Results

# Three readings of the threat model, each judged on its own (the report shows which reproduces
# what): Definition 1's ε-ball around the unclipped sample, attacked by our strong PGD; the same
# models under the paper's attack (400 steps of 0.01 from x); and the ball clamped to [0, 1], the
# reading under which the paper's near-zero η = 0 errors appear (bench/README.md).
FIG2A_READINGS = (
    ("", "Definition 1's ε-ball, our attack (PGD-100 on the margin loss, 5 restarts)"),
    ("paper_attack/", "the paper's attack: PGD-400 with steps of 0.01 from x"),
    ("clamped/", "unclipped samples attacked inside [0, 1] (the attack clamped)"),
)
PAPER_TOY_ATTACK = "paper_toy"
# σ² = 0.1 with the noise added after MNIST's normalisation (std 0.3081): 0.1 × 0.3081² in pixel
# units, the noise 3.2x smaller against the digits' gap.
SIGMA2_NORMALISED = 0.009493


def _fig2a_rows(r: Results, sigma2: float, reading: str = "", sweep: str = "toy") -> dict[float, dict]:
    runs = r.select(sweep, **{"data.sigma2": sigma2})
    etas = sorted({float(v.get("eta")) for v in runs})
    where = {"data.sigma2": sigma2}
    return {
        e: {
            "train_err": r.mean(sweep, "train_err", eta=e, **where),
            **{k: r.mean(sweep, f"{reading}{k}", eta=e, **where) for k in ("natural_err", "adv_err")},
        }
        for e in etas
    }


def _fig2a_ours(rows: dict[float, dict[str, float]]) -> str:
    return "; ".join(
        f"η={e:g}: train {fmt3(v['train_err'])}, test {fmt3(v['natural_err'])}, adv {fmt3(v['adv_err'])}"
        for e, v in rows.items()
    )


def _fig2a_low_variance(reading: str = "", sweep: str = "toy", sigma2: float = 0.1) -> Check:
    def check(r: Results) -> tuple[str, bool]:
        rows = _fig2a_rows(r, sigma2, reading, sweep)
        holds = all(v["train_err"] >= e / 2 for e, v in rows.items() if e > 0) and all(
            v["natural_err"] <= 0.1 and v["adv_err"] <= 0.1 for v in rows.values()
        )
        return _fig2a_ours(rows), holds

    return check


def _fig2a_mid_variance(reading: str = "") -> Check:
    def check(r: Results) -> tuple[str, bool]:
        rows = _fig2a_rows(r, 0.3, reading)
        base = rows[min(rows)]
        holds = base["natural_err"] <= 0.05 and base["adv_err"] <= 0.05
        memorising = [e for e, v in rows.items() if e > 0 and v["train_err"] < e]
        if memorising:
            v = rows[min(memorising)]
            holds = holds and v["adv_err"] - base["adv_err"] >= 0.3 and v["natural_err"] <= 0.1
        return _fig2a_ours(rows), holds

    return check


def _fig2a_high_variance(reading: str = "") -> Check:
    def check(r: Results) -> tuple[str, bool]:
        rows = _fig2a_rows(r, 0.5, reading)
        lo, hi = rows[min(rows)], rows[max(rows)]
        adv_rise, test_rise = hi["adv_err"] - lo["adv_err"], hi["natural_err"] - lo["natural_err"]
        fitted = all(v["train_err"] <= 0.01 for v in rows.values())
        ours = f"{_fig2a_ours(rows)} (η = 0 starts at adversarial error {fmt3(lo['adv_err'])})"
        return ours, fitted and test_rise > 0 and adv_rise > test_rise and adv_rise >= 0.1

    return check


FIG2A_SOURCES = {
    0.1: "§3.1: “For low values of σ2 (σ2 = 0.1), the training data from each class is all concentrated "
    "around the same point; as a result these models are unable to memorize the label noise and the "
    "training error is high. In this case, over-fitting label noise is impossible and the test error, as "
    "well as the adversarial error, is low.”",
    0.3: "§3.1, Remark 1: “The case when σ2 = 0.3 is particularly interesting; when the label noise is low "
    "and the training error is high, there is no overfitting and the test error and the adversarial error "
    "is zero. When the network starts memorizing label noise (i.e. train error gets lesser than label "
    "noise), test error still remains very low but adversarial error increases rapidly.”",
    0.5: "§3.1: “as σ2 increases to σ2 = 0.5, the neural network is flexible enough to use the noise "
    "component to extract features that allow it to memorize label noise and fit the training data "
    "perfectly. This brings the training error down to zero, while causing the test error to increase, and "
    "the adversarial error even more so.”",
}
FIG2A_THRESHOLDS = {
    0.1: "training error stays high (≥ η/2 at every η > 0); test and adversarial error low (≤ 0.1)",
    0.3: "≤ 0.05 test and adversarial error at η = 0; at the first η where training error < η the "
    "adversarial error ≥ 0.3 above η = 0's, test error ≤ 0.1",
    0.5: "training error ≤ 0.01 at every η; from the smallest to the largest η the test error rises and the "
    "adversarial error rises more, by ≥ 0.1 (100 of 1000 test points)",
}
FIG2A_CHECKS = {0.1: _fig2a_low_variance, 0.3: _fig2a_mid_variance, 0.5: _fig2a_high_variance}


def _fig2a_claims() -> tuple[Claim, ...]:
    claims = []
    for reading, label in FIG2A_READINGS:
        for sigma2, source in FIG2A_SOURCES.items():
            name = f"sigma2={sigma2:g}" + (f" [{reading.rstrip('/')}]" if reading else "")
            claims.append(Claim(name, source, f"{FIG2A_THRESHOLDS[sigma2]}; evaluated with {label}",
                                FIG2A_CHECKS[sigma2](reading)))  # fmt: skip
    # Readings of §3.1's setup tried for σ² = 0.1 (its claim fails under the one above), each judged
    # with our attack in Definition 1's ball and in the ball clamped to [0, 1].
    for sweep, sigma2, label in FIG2A_SETUP_READINGS:
        for reading, attack in (("", "our attack"), ("clamped/", "our attack clamped to [0, 1]")):
            name = f"sigma2=0.1 [{sweep}{', clamped' if reading else ''}]"
            threshold = f"{FIG2A_THRESHOLDS[0.1]}; reading: {label}; {attack}"
            claims.append(Claim(name, FIG2A_SOURCES[0.1], threshold,
                                _fig2a_low_variance(reading, sweep=sweep, sigma2=sigma2)))  # fmt: skip
    return tuple(claims)


FIG2A_SETUP_READINGS = (
    ("normalised", SIGMA2_NORMALISED, "the noise added after MNIST's normalisation (σ² 0.1 × 0.3081²)"),
    ("three_hidden", 0.1, "the literal “four fully connected layers” (3 hidden) and plain SGD"),
    ("fixed_cap", 0.1, "plain SGD for a fixed 20 epochs at every η (no stop at zero training error)"),
)


def _fig2a_post(folders: dict[str, Path]) -> None:
    """The paper's attack and the clamped reading on every model of the main sweep."""
    from benign_lightning.reproduce.reevaluate import attack_group, reevaluate_sweep

    reevaluate_sweep(folders["toy"], "paper_attack", attack_group(PAPER_TOY_ATTACK))
    for sweep in ("toy", *(name for name, _, _ in FIG2A_SETUP_READINGS)):
        if sweep in folders:
            reevaluate_sweep(folders[sweep], "clamped", {"clamp": [0.0, 1.0]})


FIG2A_READING_SWEEPS = (
    Sweep("normalised", ("+experiment=toy_mnist", "-m", "eta=0,0.2", f"data.sigma2={SIGMA2_NORMALISED}",
                         SEEDS3)),
    Sweep("three_hidden", ("+experiment=toy_mnist", "+model.kwargs.depth=3", "recipe.momentum=0", "-m",
                           "eta=0,0.2", "data.sigma2=0.1", SEEDS3)),
    Sweep("fixed_cap", ("+experiment=toy_mnist", "recipe.momentum=0", "stop_at_zero_train_err=false",
                        "trainer.max_epochs=20", "trainer.min_epochs=null", "-m", "eta=0,0.2",
                        "data.sigma2=0.1", SEEDS3)),
)  # fmt: skip
FIG2A = Entry(
    name="fig2a",
    title="Figure 2a: toy-MNIST, adversarial error rises with label noise once the noise is memorised",
    section="§3.1, Figure 2a, Remark 1",
    sweeps={
        "smoke": (Sweep("toy", ("+experiment=toy_mnist", *TOY_SMOKE, "-m", "eta=0,0.2", "data.sigma2=0.5")),),
        "cpu": (
            Sweep("toy", ("+experiment=toy_mnist", "-m", "eta=0,0.2", "data.sigma2=0.1,0.3,0.5", SEEDS3)),
            *FIG2A_READING_SWEEPS,
        ),
        "paper": (
            Sweep("toy", ("+experiment=toy_mnist", "-m", "eta=0,0.05,0.1,0.2", "data.sigma2=0.1,0.3,0.5",
                          SEEDS3)),
            *FIG2A_READING_SWEEPS,
        ),  # fmt: skip
    },
    claims=_fig2a_claims(),
    cost={
        "smoke": "≈ 10 s, CPU",
        "cpu": "18 jobs and 18 for the σ² = 0.1 readings, each model evaluated under three attacks: 22 min "
               "of training measured (the re-evaluations besides)",
        "paper": "36 jobs and 18 for the readings, ≈ 1.5 h on 2 CPU cores",
    },
    plot_by=("data.sigma2",),
    notes=(
        "The paper gives no number for toy-MNIST: its text says what the curves do (quoted in the claims); "
        "our η = 0 errors are in each claim's row.",
        "Each model is evaluated three ways: Definition 1's ε-ball around the unclipped sample with our "
        "attack, the paper's attack (PGD-400 of 0.01 from x), and the ball clamped to [0, 1].",
    ),
    post=_fig2a_post,
)
