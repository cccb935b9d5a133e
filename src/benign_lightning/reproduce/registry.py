"""Every figure and table ``reproduce`` knows, in one place: its paper section, the sweeps per scale,
and the claims, each with the paper's number or words and a check computed from the results.

Adding a figure is one ``Entry`` in ``ENTRIES``. A sweep is the command line of the normal app
(``python -m benign_lightning <args>``), so launcher, logger and trainer overrides reach every job.
Scales: ``smoke`` (seconds to a minute on a CPU, for the tests), ``cpu`` (this machine, minutes to
an hour), ``paper`` (the paper's settings; a GPU cluster). A check returns ``(ours, holds)``; one
that finds no runs for what it needs is "not run".

The thresholds that turn the paper's words into checks are written in each claim's ``paper`` text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benign_lightning.rare_examples import FIGURE1_SHOWN
from benign_lightning.reproduce.results import NoRuns, Results, TooFew

SCALES = ("smoke", "cpu", "paper")
Check = Callable[[Results], tuple[str, bool]]


@dataclass(frozen=True)
class Sweep:
    """One call of the app: ``name`` is its folder; ``args`` its command line (``-m`` and sweeps)."""

    name: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Claim:
    """One claim of the paper: where it is said, what it says (with the threshold used), the check.

    ``per_seed``: the check is judged on each seed's runs on its own, and the verdict says on how
    many it holds ("holds on k of n seeds"). ``scales``: the scales whose runs are in the regime the
    claim speaks of (None: all); at the others the verdict is "not judged" with ``regime``, the
    reason."""

    id: str
    source: str
    paper: str
    check: Check
    per_seed: bool = True
    scales: tuple[str, ...] | None = None
    regime: str = ""


@dataclass(frozen=True)
class Entry:
    name: str
    title: str
    section: str
    sweeps: dict[str, tuple[Sweep, ...]]
    claims: tuple[Claim, ...]
    cost: dict[str, str]  # per scale: how long, on what
    needs: str = "nothing to download"
    plot_by: tuple[str, ...] = ()  # the keys aggregate draws one line per value of
    x: str = "eta"  # aggregate's x axis for err_vs_<x>
    paper_numbers: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (what, the paper's value)
    post: Callable[[dict[str, Path]], None] | None = None  # a step after the sweeps (sweep → folder)
    notes: tuple[str, ...] = ()  # what the report says of our runs against the paper's (substitutions)
    runs_of: str | None = None  # another entry whose sweeps (and run folders) this one reads
    run_figures: tuple[str, ...] = ()  # figures inside the sweeps' folders the report shows (globs)


# --- the shared smoke settings: a handful of points, one epoch or two, a weak attack ----------------
SMOKE_ATTACK = ("attack.steps=3", "attack.restarts=1", "attack.checks=none", "memorization=false")
TOY_SMOKE = (
    "data.n_train=200",
    "data.n_test=100",
    "trainer.max_epochs=2",
    "trainer.min_epochs=1",
    *SMOKE_ATTACK,
)
MNIST_SMOKE = ("data.train_subset=200", "data.test_subset=100", "trainer.max_epochs=1", *SMOKE_ATTACK)
PLANAR_SMOKE = ("data.n_train=200", "data.n_test=100", "trainer.max_epochs=3", *SMOKE_ATTACK)


def _f(x: float) -> str:
    return f"{x:.3f}"


# --- Figure 2a ------------------------------------------------------------------------------------
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
        f"η={e:g}: train {_f(v['train_err'])}, test {_f(v['natural_err'])}, adv {_f(v['adv_err'])}"
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
        ours = f"{_fig2a_ours(rows)} (η = 0 starts at adversarial error {_f(lo['adv_err'])})"
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


SEEDS3, SEEDS5 = "seed=0,1,2", "seed=0,1,2,3,4"
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


# --- Figure 2b ------------------------------------------------------------------------------------
def _fig2b_jump(reading: str = "") -> Check:
    """The jump at ε = 0.1, on models that fitted their noisy labels (an under-trained model shows a
    jump too, from the noise it has not learnt: that is not the claim)."""

    def check(r: Results) -> tuple[str, bool]:
        etas = sorted({float(v.get("eta")) for v in r.select("mnist")})
        lo, hi = etas[0], etas[-1]
        adv = {e: float(r.mean("mnist", f"{reading}adv_err_by_eps", eta=e, _at=0.1)) for e in (lo, hi)}
        test = {e: r.mean("mnist", "natural_err", eta=e) for e in (lo, hi)}
        train = {e: r.mean("mnist", "train_err", eta=e) for e in etas}
        adv_rise, test_rise = adv[hi] - adv[lo], test[hi] - test[lo]
        ours = (
            f"η {lo:g} → {hi:g}: adversarial error (ε = 0.1) {_f(adv[lo])} → {_f(adv[hi])}, test error "
            f"{_f(test[lo])} → {_f(test[hi])}; training error on the noisy labels "
            + ", ".join(f"{_f(v)} (η={e:g})" for e, v in train.items())
        )
        fitted = all(v <= 0.02 for v in train.values())
        return ours, fitted and adv_rise >= 0.2 and adv_rise >= 2 * test_rise

    return check


FIG2B_SOURCE = (
    "§3.1: “The results on both datasets show that the effect of over-fitting label noise on adversarial "
    "error is even more clearly visible here; for the same PGD adversary the adversarial error jumps sharply "
    "with increasing label noise, while the growth of natural test error is much slower.”"
)
FIG2B_THRESHOLD = (
    "the noise fitted (training error on the noisy labels ≤ 0.02 at every η); from the smallest to the "
    "largest η the adversarial error at ε = 0.1 (ours: the paper plots a grid it does not give) rises by "
    "≥ 0.2 and by ≥ 2× the test error's rise"
)


def _fig2b_post(folders: dict[str, Path]) -> None:
    from benign_lightning.reproduce.reevaluate import attack_group, reevaluate_sweep

    reevaluate_sweep(folders["mnist"], "paper_attack", attack_group("paper_mnist"))


FIG2B = Entry(
    name="fig2b",
    title="Figure 2b: MNIST, adversarial error jumps with label noise, test error grows slowly",
    section="§3.1, Figure 2b, App. D.1",
    sweeps={
        "smoke": (Sweep("mnist", ("+experiment=mnist_noise", *MNIST_SMOKE, "attack.eval_eps=[0.1]", "-m",
                                  "eta=0,0.2")),),  # fmt: skip
        "cpu": (
            Sweep(
                "mnist",
                (
                    "+experiment=mnist_noise",
                    "data.train_subset=2000",
                    "data.test_subset=500",
                    "attack.eval_eps=[0.05,0.1,0.2]",
                    "-m",
                    "eta=0,0.2",
                    SEEDS3,
                ),
            ),
        ),
        "paper": (Sweep("mnist", ("+experiment=mnist_noise", "-m", "eta=0,0.05,0.1,0.2", SEEDS3)),),
    },
    claims=(
        Claim("jump", FIG2B_SOURCE, f"{FIG2B_THRESHOLD}; our attack (PGD-50, one random start)",
              _fig2b_jump()),
        Claim("jump [paper_attack]", FIG2B_SOURCE, f"{FIG2B_THRESHOLD}; the paper's attack (PGD-20, steps of "
              "0.01 from x)", _fig2b_jump("paper_attack/")),  # fmt: skip
    ),
    cost={
        "smoke": "≈ 15 s, CPU",
        "cpu": "6 jobs on 2000 images (3 seeds), each evaluated under two attacks: 63 min measured",
        "paper": "12 jobs × 60 epochs on 60k images, ≈ 3 GPU-hours",
    },
    needs="MNIST (BENIGN_DATA_DIR/MNIST/raw)",
    notes=("The CPU scale trains on 2000 of MNIST's images and evaluates on 500 test images.",),
    post=_fig2b_post,
)


# --- §3.2 ------------------------------------------------------------------------------------------
def _natural_fits_all(r: Results) -> tuple[str, bool]:
    err = r.mean("methods", "train_err", method="natural")
    return f"natural training error on the noisy labels {_f(err)}", err <= 0.01


# The paper's AT run (§3.2): 997 training errors, 994 mislabelled, with 15% of 60,000 labels drawn at
# random (about 8,100 of them changed): it fits about 88% of the noise and leaves 3 of ~51,900 clean
# points unfit. Its claim is about *which* points a robust model that has fitted most of the noise
# leaves unfit; a model that has not trained leaves everything unfit, and must fail.
SEC32_LEAST_NOISE_FIT = 0.5
SEC32_MOST_CLEAN_UNFIT = 0.01
SEC32_PRECISION = 0.95


def _robust_errors_mislabelled(method: str) -> Check:
    def check(r: Results) -> tuple[str, bool]:
        run = r.select("methods", method=method)[0]
        n, hits = int(run.get("n_train_errors")), int(run.get("n_train_errors_mislabelled"))
        noisy, n_train, noisy_fit = int(run.get("n_noisy")), int(run.get("n_train")), run.get("noisy_fit")
        clean_unfit, n_clean = n - hits, n_train - noisy
        precision = hits / n if n else None
        ours = (
            f"{n} training errors, {hits} mislabelled (precision {_f(precision or 0)}); the noise fitted: "
            f"{_f(noisy_fit or 0)} of {noisy} changed labels; clean points left unfit: {clean_unfit} of "
            f"{n_clean} ({_f(clean_unfit / max(n_clean, 1))}); final robust training loss "
            f"{_f(run.get('final_train_loss') or float('nan'))}"
        )
        holds = (
            n > 0 and precision >= SEC32_PRECISION and (noisy_fit or 0) >= SEC32_LEAST_NOISE_FIT
            and clean_unfit / max(n_clean, 1) <= SEC32_MOST_CLEAN_UNFIT
        )  # fmt: skip
        return ours, holds

    return check


SEC32_REGIME = (
    f"it has training errors; ≥ {SEC32_PRECISION} of them mislabelled (the paper: 994 / 997 = 0.997); it "
    f"fits ≥ {SEC32_LEAST_NOISE_FIT} of the changed labels (the paper's fits about 88%: the regime the claim "
    f"speaks of, which an untrained model is not in); it leaves ≤ {SEC32_MOST_CLEAN_UNFIT} of the clean "
    "points unfit"
)
# The CPU scale: 1000 images, all three methods on the recipe's schedule cut to 60 epochs, ε = 0.3,
# the training attack 10 steps of 2.5·ε/10 (the paper's 30 of 0.01 would triple the cost), ε warmed
# up over 10 epochs (mnist_robust_noise.yaml). Batches of 32: at 128, 1000 images give 8 SGD steps an
# epoch (480 in all, the paper's run has ~47,000) and AT at ε = 0.3 was still at training error 0.53,
# loss falling, at epoch 36; 32 gives 4× the steps for about the same compute. One seed: each robust
# run is ~20 min on 2 CPU cores.
SEC32_CPU = ("+experiment=mnist_robust_noise", "data.train_subset=1000", "data.test_subset=500",
             "data.batch_size=32", "trainer.max_epochs=60", "train_attack.steps=10",
             "train_attack.step_size=null", "attack=linf", "attack.checks=cheap")  # fmt: skip
SEC32 = Entry(
    name="sec3.2",
    title="§3.2: robust training leaves the mislabelled points unfit (MNIST, 15% random labels)",
    section="§3.2",
    sweeps={
        "smoke": (
            Sweep(
                "methods",
                (
                    "+experiment=mnist_robust_noise",
                    *MNIST_SMOKE,
                    "train_attack.steps=2",
                    "eps=0.1",
                    "-m",
                    "method=natural,at",
                ),
            ),
        ),
        "cpu": (Sweep("methods", (*SEC32_CPU, "-m", "method=natural,at,trades")),),
        "paper": (Sweep("methods", ("+experiment=mnist_robust_noise", "-m", "method=natural,at,trades",
                                    SEEDS3)),),  # fmt: skip
    },
    claims=(
        Claim(
            "natural",
            "§3.2: “A naturally trained CNN model achieved 100% accuracy on this dataset”",
            "training error on the noisy labels ≤ 0.01",
            _natural_fits_all,
        ),
        Claim(
            "at",
            "§3.2: “an adversarially trained model (standard setting with ϵ = 0.3 for 30 steps) "
            "mis-classified 997 examples in the training set after the same training regime. Out of these "
            "997 samples, 994 examples were mislabelled in the dataset.”",
            SEC32_REGIME,
            _robust_errors_mislabelled("at"),
        ),
        Claim(
            "trades (beyond §3.2)",
            "beyond the paper's §3.2, which reports AT's numbers only: the same question of TRADES "
            "(λ = 1/6, the paper's MNIST TRADES model of App. D.2)",
            SEC32_REGIME,
            _robust_errors_mislabelled("trades"),
        ),
    ),
    cost={
        "smoke": "≈ 20 s, CPU",
        "cpu": "3 jobs on 1000 images, 60 epochs each (one seed): 332 s natural, 1624 s AT, 1627 s TRADES "
               "measured on one CPU core",
        "paper": "9 jobs × 100 epochs on 60k images, AT with 30 steps: ≈ 15 GPU-hours",
    },
    needs="MNIST (BENIGN_DATA_DIR/MNIST/raw)",
    paper_numbers=(("AT's training errors", "997, of which 994 mislabelled"),),
    notes=(
        "The CPU scale keeps the paper's ε = 0.3 and the same schedule for all three methods, on 1000 "
        "images for 60 epochs in batches of 32 (1,900 SGD steps; the paper's run takes ~47,000) with a "
        "10-step training attack; one seed, for its cost.",
    ),
)


def _eps_curve(run) -> dict[float, float]:
    return {float(k): float(v) for k, v in (run.get("adv_err_by_eps") or {}).items()}


def _curves_ordered(sweep: str, key: str, order: tuple[str, ...]) -> Check:
    """At every ε of the grid, the runs' adversarial errors in ``order`` (lowest first)."""

    def check(r: Results) -> tuple[str, bool]:
        curves = {name: _mean_curve(r, sweep, **{key: name}) for name in order}
        grid = sorted(set.intersection(*(set(c) for c in curves.values())) - {0.0})
        ours = "; ".join(f"ε={e:g}: " + ", ".join(f"{n} {_f(curves[n][e])}" for n in order) for e in grid)
        holds = bool(grid) and all(
            all(curves[a][e] <= curves[b][e] for a, b in zip(order, order[1:], strict=False)) for e in grid
        )
        return ours, holds

    return check


# Both arms at or above this adversarial error: saturated, where "smaller" cannot show.
BOTH_SATURATED = 0.98


def _strictly_lower(sweep: str, better: str, worse: str) -> Check:
    """``better``'s adversarial error strictly below ``worse``'s at every ε > 0 where either is below
    saturation; the ε where both saturate are reported, and at least one ε must be judged."""

    def check(r: Results) -> tuple[str, bool]:
        a, b = _mean_curve(r, sweep, method=better), _mean_curve(r, sweep, method=worse)
        grid = sorted(set(a) & set(b) - {0.0})
        judged = [e for e in grid if min(a[e], b[e]) < BOTH_SATURATED]
        saturated = [e for e in grid if e not in judged]
        ours = "; ".join(f"ε={e:.4g}: {better} {_f(a[e])}, {worse} {_f(b[e])}" for e in grid)
        if saturated:
            ours += f" (both ≥ {BOTH_SATURATED} at ε = {', '.join(f'{e:.4g}' for e in saturated)})"
        return ours, bool(judged) and all(a[e] < b[e] for e in judged)

    return check


# --- CIFAR and Restricted ImageNet (GPU scale; "not run" where the data is not on the machine) ----
# At CPU scale the CIFAR figures are GPU jobs: a 5000-image subset for 30 epochs.
CIFAR_CPU = ("data.train_subset=5000", "data.test_subset=1000", "trainer.max_epochs=30")
CIFAR_SMOKE = (
    "data.train_subset=64",
    "data.test_subset=32",
    "trainer.max_epochs=1",
    "data.batch_size=32",
    *SMOKE_ATTACK,
)


# The adversarial error a naturally trained CIFAR network reaches at a budget where it has nothing
# left to lose: above this, a rise with η cannot show.
SATURATED = 0.9


def _mean_curve(r: Results, sweep: str, **where) -> dict[float, float]:
    """The mean adversarial error at each ε of the grid, over the matching runs."""
    curves = [_eps_curve(v) for v in r.select(sweep, **where)]
    grid = sorted(set.intersection(*(set(c) for c in curves)))
    return {e: sum(c[e] for c in curves) / len(curves) for e in grid}


def _cifar_noise(r: Results) -> tuple[str, bool]:
    """Per architecture: the rise with η at the smallest ε > 0 where η = 0's adversarial error is below
    saturation (at 8/255 a natural CIFAR network is near 1 at every η, and no rise can show)."""
    parts, holds = [], True
    for arch in sorted({str(v.get("arch")) for v in r.select("cifar")}):
        etas = sorted({float(v.get("eta")) for v in r.select("cifar", arch=arch)})
        lo, hi = (_mean_curve(r, "cifar", arch=arch, eta=e) for e in (etas[0], etas[-1]))
        usable = [e for e in sorted(lo) if e > 0 and lo[e] < SATURATED]
        if not usable:
            raise NoRuns(f"{arch}: η = {etas[0]:g}'s adversarial error is ≥ {SATURATED} at every ε > 0")
        eps = usable[0]
        test = [r.mean("cifar", "natural_err", arch=arch, eta=e) for e in (etas[0], etas[-1])]
        rise = hi[eps] - lo[eps]
        curve = ", ".join(f"ε={e:.4g}: {_f(lo[e])} → {_f(hi[e])}" for e in sorted(lo) if e > 0)
        parts.append(f"{arch} at ε={eps:.4g}: adv {_f(lo[eps])} → {_f(hi[eps])}, test {_f(test[0])} → "
                     f"{_f(test[1])} (η {etas[0]:g} → {etas[-1]:g}; the curve: {curve})")  # fmt: skip
        holds = holds and rise >= 0.1 and rise > test[1] - test[0]
    return "; ".join(parts), holds


FIG2CDE = Entry(
    name="fig2c-e",
    title="Figure 2c–e: CIFAR-10 (ResNet-18, DenseNet-121, VGG-19), adversarial error rises with label noise",
    section="§3.1, Figure 2c–e",
    sweeps={
        "smoke": (Sweep("cifar", ("+experiment=cifar_noise", *CIFAR_SMOKE, "-m", "eta=0,0.2")),),
        "cpu": (
            Sweep(
                "cifar",
                ("+experiment=cifar_noise", *CIFAR_CPU, "-m", "eta=0,0.2"),
            ),
        ),
        "paper": (
            Sweep(
                "cifar", ("+experiment=cifar_noise", "-m", "arch=resnet18,densenet121,vgg19", "eta=0,0.1,0.2")
            ),
        ),
    },
    claims=(
        Claim(
            "rise",
            "§3.1 (of Figures 2b–e): “for the same PGD adversary the adversarial error jumps sharply with "
            "increasing label noise, while the growth of natural test error is much slower”; the Figure 2 "
            "caption: “Adversarial Error increases with increasing label noise η.”",
            f"for every architecture, at the smallest ε > 0 of the grid where η = 0's adversarial error is "
            f"below {SATURATED} (not saturated), the adversarial error at the largest η is ≥ 0.1 above "
            "η = 0's and rises more than the test error; the whole curve is reported",
            _cifar_noise,
        ),
    ),
    cost={
        "smoke": "≈ 30 s, CPU",
        "cpu": "hours on a CPU (a GPU job)",
        "paper": "9 jobs × 200 epochs: ≈ 20 GPU-hours",
    },
    needs="CIFAR-10 (BENIGN_DATA_DIR/cifar-10-batches-py)",
)

TABLE1_PAPER = {0.0: (99.98, 95.25), 0.25: (97.23, 92.77), 1.0: (86.03, 81.62)}


# Table 1 reports one model per ε and no spread. ±1.5 points (ours) allows for seed-to-seed and
# implementation differences of a 150-epoch CIFAR-10 ResNet-50 recipe (the paper names none; ours is
# the robustness library's), while a model of another regime (too few epochs, no augmentation, a
# weaker attack) misses by more.
TABLE1_TOLERANCE = 1.5


def _table1_rows(r: Results) -> dict[float, tuple[float, float]]:
    eps = sorted({float(v.get("eps")) for v in r.select("l2")})
    return {e: (100 * (1 - r.mean("l2", "train_err", eps=e)), 100 * (1 - r.mean("l2", "natural_err", eps=e)))
            for e in eps}  # fmt: skip


def _table1_falling(r: Results) -> tuple[str, bool]:
    rows = _table1_rows(r)
    ours = "; ".join(f"ε={e:g}: train {a:.2f}%, test {b:.2f}%" for e, (a, b) in rows.items())
    train, test = [a for a, _ in rows.values()], [b for _, b in rows.values()]
    falling = all(x > y for x, y in zip(train, train[1:], strict=False)) and all(
        x > y for x, y in zip(test, test[1:], strict=False)
    )
    return ours, len(rows) > 1 and falling


def _table1_numbers(r: Results) -> tuple[str, bool]:
    rows = _table1_rows(r)
    missing = set(TABLE1_PAPER) - set(rows)
    if missing:
        raise NoRuns(f"no run at ε = {', '.join(f'{e:g}' for e in sorted(missing))}")
    parts, holds = [], True
    for e, (paper_train, paper_test) in TABLE1_PAPER.items():
        train, test = rows[e]
        parts.append(f"ε={e:g}: train {train:.2f}% (paper {paper_train}), test {test:.2f}% "
                     f"(paper {paper_test})")  # fmt: skip
        holds = holds and max(abs(train - paper_train), abs(test - paper_test)) <= TABLE1_TOLERANCE
    return "; ".join(parts), holds


TABLE1 = Entry(
    name="table1",
    title="Table 1: CIFAR-10 ResNet-50 with ℓ2 adversarial training, train and test accuracy per ε",
    section="§3.2, Table 1",
    sweeps={
        "smoke": (
            Sweep("l2", ("+experiment=cifar_l2_at", *CIFAR_SMOKE, "train_attack.steps=1", "-m", "eps=0,1.0")),
        ),
        "cpu": (
            Sweep(
                "l2",
                ("+experiment=cifar_l2_at", *CIFAR_CPU, "-m", "eps=0,0.25,1.0"),
            ),
        ),
        "paper": (Sweep("l2", ("+experiment=cifar_l2_at", "-m", "eps=0,0.25,1.0")),),
    },
    claims=(
        Claim(
            "falling",
            "§3.2: “both the training and test accuracy (on clean data) for commonly used deep learning "
            "models drops with increasing strength of the PGD adversary used (see Table 1)”",
            "train and test accuracy both fall as ε grows",
            _table1_falling,
        ),
        Claim(
            "numbers",
            "§3.2, Table 1: train / test accuracy 99.98 / 95.25% (ε = 0), 97.23 / 92.77% (ε = 0.25), "
            "86.03 / 81.62% (ε = 1.0)",
            f"every train and test accuracy within {TABLE1_TOLERANCE} points of the paper's (the paper "
            "reports one model per ε and no spread; the tolerance, ours, allows for seed and implementation "
            "differences of one recipe)",
            _table1_numbers,
            scales=("paper",),
            regime="the CPU and smoke scales train on a 5000-image subset for 30 epochs, not the paper's "
            "recipe, so their accuracies are not comparable with Table 1's",
        ),
    ),
    cost={"smoke": "≈ 30 s, CPU", "cpu": "hours on a CPU (a GPU job)", "paper": "3 jobs: ≈ 30 GPU-hours"},
    needs="CIFAR-10 (BENIGN_DATA_DIR/cifar-10-batches-py)",
    x="eps",
    paper_numbers=tuple(
        (f"ε = {e:g}: train / test accuracy", f"{a}% / {b}%") for e, (a, b) in TABLE1_PAPER.items()
    ),
)


def _fine2coarse_entry(name: str, figure: str, experiment: str, needs: str, paper_cost: str,
                       source: str) -> Entry:  # fmt: skip
    smoke = (
        CIFAR_SMOKE
        if "cifar" in experiment
        else (
            "data.train_subset=32",
            "data.test_subset=16",
            "trainer.max_epochs=1",
            "data.batch_size=16",
            *SMOKE_ATTACK,
        )
    )
    return Entry(
        name=name,
        title=f"Figure {figure}: training on fine labels (Fine2Coarse) is more robust than on coarse ones",
        section=f"App. C.3, Figure {figure}",
        sweeps={
            "smoke": (
                Sweep("arms", (f"+experiment={experiment}", *smoke, "-m", "method=fine2coarse,coarse")),
            ),
            "cpu": (
                Sweep(
                    "arms",
                    (
                        f"+experiment={experiment}",
                        "data.train_subset=5000",
                        "trainer.max_epochs=20",
                        "-m",
                        "method=fine2coarse,coarse",
                    ),
                ),
            ),
            "paper": (Sweep("arms", (f"+experiment={experiment}", "-m", "method=fine2coarse,coarse")),),
        },
        claims=(
            Claim(
                "fine2coarse",
                source,
                "Fine2Coarse's adversarial error strictly below the coarse model's at every ε > 0 of the "
                f"grid where either is below {BOTH_SATURATED} (the ε where both saturate are named)",
                _strictly_lower("arms", "fine2coarse", "coarse"),
            ),
        ),
        cost={"smoke": "≈ 30 s, CPU", "cpu": "hours on a CPU (a GPU job)", "paper": paper_cost},
        needs=needs,
        x="eps",
    )


FIG9B = _fine2coarse_entry(
    "fig9b",
    "9b",
    "fine2coarse_cifar100",
    "CIFAR-100 (BENIGN_DATA_DIR/cifar-100-python)",
    "2 jobs, ResNet-50: ≈ 10 GPU-hours",
    "App. C.3, Figure 9b: “Figure 9b shows that for all perturbation budgets, Fine2Coarse has smaller "
    "adversarial risk than the naturally trained model.”",
)
# The paper states the "all perturbation budgets" result for CIFAR-100 only; of Restricted ImageNet
# it describes the setup, and the Figure 9 caption is its one claim.
FIG9C = _fine2coarse_entry(
    "fig9c",
    "9c",
    "fine2coarse_rimagenet",
    "ImageNet (BENIGN_DATA_DIR/imagenet)",
    "2 jobs on 77k ImageNet images: ≈ 40 GPU-hours",
    "App. C.3, the Figure 9 caption (the text states no result for 9c): “Assigning a separate class to "
    "each sub-population within the original class during training increases robustness by learning "
    "more meaningful representations.”",
)


# --- the appendix's planar figures ----------------------------------------------------------------
def _small_disc_errors(run) -> tuple[int, int]:
    by_size = run.get("train_err_by_group_size") or {}
    small = by_size[min(by_size, key=float)]
    return int(small["groups_lost"]), int(small["groups"])


def _circles_ignored(r: Results) -> tuple[str, bool]:
    parts, holds = [], True
    for model in sorted({str(v.get("model")) for v in r.select("circles")}):
        nat, at = (
            _small_disc_errors(r.select("circles", method=m, model=model)[0]) for m in ("natural", "at")
        )
        parts.append(f"{model}: small discs lost natural {nat[0]} of {nat[1]}, AT {at[0]} of {at[1]}")
        holds = holds and nat[0] == 0 and at[0] >= 1
    return "; ".join(parts), holds


def _circles_margin(r: Results) -> tuple[str, bool]:
    parts, holds = [], True
    for model in sorted({str(v.get("model")) for v in r.select("circles")}):
        nat, at = (
            (r.select("circles", method=m, model=model)[0].get("margin") or {}).get("median") or 0.0
            for m in ("natural", "at")
        )
        parts.append(f"{model}: median margin natural {_f(nat)}, AT {_f(at)}")
        holds = holds and at > nat
    return "; ".join(parts), holds


FIG7 = Entry(
    name="fig7",
    title="Figure 7: adversarial training gives up the small discs and widens the margin of the rest",
    section="App. C.1, Figure 7",
    sweeps={
        "smoke": (
            Sweep(
                "circles",
                ("+experiment=circles", *PLANAR_SMOKE, "model=mlp_4x100", "-m", "method=natural,at"),
            ),
        ),
        "cpu": (Sweep("circles", ("+experiment=circles", "-m", "method=natural,at",
                                  "model=mlp_2x1000,mlp_4x100", SEEDS3)),),
        "paper": (Sweep("circles", ("+experiment=circles", "-m", "method=natural,at",
                                    "model=mlp_2x1000,mlp_4x100", SEEDS5)),),  # fmt: skip
    },
    claims=(
        Claim(
            "small discs",
            "App. C.1: “Figure 7 shows that the adversarially trained (AT) models ignore the smaller circles "
            "(i.e. rare sub-populations)”",
            "for each network: natural training loses none of the small discs, AT at least one",
            _circles_ignored,
        ),
        Claim(
            "margin",
            "App. C.1: AT “tries to get a larger margin around the circles it does classify correctly "
            "whereas the naturally trained (NAT) models correctly predicts every circle but ends up with "
            "very small margin around a lot of circles”",
            "for each network: AT's median margin of the fitted training points > natural training's",
            _circles_margin,
        ),
    ),
    cost={
        "smoke": "≈ 10 s, CPU",
        "cpu": "12 jobs (both networks, 3 seeds): 44 min measured on 2 CPU cores",
        "paper": "20 jobs (5 seeds), ≈ 40 min on 2 CPU cores",
    },
    x="eps",
    notes=(
        "The layout is ours: the paper says only “non-overlapping circles of varying radiuses”. Ours has 3 "
        "large discs (radius 1.2) and 8 small ones (0.3), each small disc 0.2 from a large disc of the other "
        "label: under 2ε (ε = 0.2), so no ε-robust classifier can keep both, and AT must give something up. "
        "The small discs are what it gives up in the paper; the layout makes the choice necessary, not "
        "which disc is chosen.",
    ),
)


def _blobs_nn(r: Results) -> tuple[str, bool]:
    nn = _eps_curve(r.select("nn")[0])
    eps = max(nn)
    mlps = {str(v.get("model")): _eps_curve(v).get(eps) for v in r.select("mlps")}
    ours = f"ε={eps:g}: 1-NN {_f(nn[eps])}, " + ", ".join(f"{m} {_f(e)}" for m, e in sorted(mlps.items()))
    return ours, all(e is not None and nn[eps] < e for e in mlps.values())


FIG8 = Entry(
    name="fig8",
    title="Figure 8: the 1-nearest neighbour is much more robust than the networks on blobs",
    section="App. C.2, Figure 8",
    sweeps={
        "smoke": (
            Sweep("mlps", ("+experiment=blobs", *PLANAR_SMOKE, "-m", "model=mlp_2x100")),
            Sweep("nn", ("+experiment=blobs", *PLANAR_SMOKE, "method=nearest_neighbor", "-m")),
        ),
        "cpu": (
            Sweep("mlps", ("+experiment=blobs", "-m", "model=mlp_2x100,mlp_4x100", SEEDS3)),
            Sweep("nn", ("+experiment=blobs", "method=nearest_neighbor", "-m")),
        ),
        "paper": (
            Sweep("mlps", ("+experiment=blobs", "-m", "model=mlp_2x100,mlp_2x1000,mlp_4x100")),
            Sweep("nn", ("+experiment=blobs", "method=nearest_neighbor", "-m")),
        ),
    },
    claims=(
        Claim(
            "1-NN",
            "App. C.2: “the 1-nearest neighbour is much more robust than the neural networks”",
            "1-NN's exact adversarial error at the largest ε is below every MLP's (PGD)",
            _blobs_nn,
        ),
    ),
    cost={
        "smoke": "≈ 10 s, CPU",
        "cpu": "3 jobs, 38 s measured on 2 CPU cores",
        "paper": "4 jobs, ≈ 6 min on 2 CPU cores",
    },
    x="eps",
)

def _lattice_of(r: Results):
    """The lattice distribution the runs were trained on (k discs of each label, their radius), and
    the ℓ2 grid they were evaluated on."""
    from benign_lightning.exact.lattice import Lattice

    run = r.select("arms")[0]
    grid = sorted(float(e) for e in _eps_curve(run) if float(e) > 0)
    return Lattice(int(run.get("data.k", 5)), float(run.get("data.radius", 0.35))), grid


def _thm3_linear(r: Results) -> tuple[str, bool]:
    from benign_lightning.exact.lattice import (
        GAMMA0,
        LEMMA1_BOUND,
        RHO,
        best_linear_separator,
        lemma1_applies,
    )

    lattice, grid = _lattice_of(r)
    judged = [g for g in grid if lemma1_applies(lattice, g)]
    if not judged:
        raise NoRuns(f"Lemma 1 speaks of discs of radius ≥ ρ = {RHO:.4f}, γ > {GAMMA0} and k ≥ 2: this "
                     f"lattice (k = {lattice.k}, radius {lattice.radius:g}) with the grid {grid} has none")
    errors = {g: best_linear_separator(lattice, g)["adv_err"] for g in judged}
    ours = "; ".join(f"γ={g:g}: the best separating line errs on {e:.4f}" for g, e in errors.items())
    return ours, all(e > LEMMA1_BOUND for e in errors.values())


def _thm3_staircase(r: Results) -> tuple[str, bool]:
    from benign_lightning.exact.lattice import GAMMA0, lemma2_applies, staircase_adversarial_error

    lattice, grid = _lattice_of(r)
    errors = {g: staircase_adversarial_error(lattice, g) for g in grid}
    ours = "; ".join(f"γ={g:g}: {e:.4f}" for g, e in errors.items())
    robust = [g for g in grid if lemma2_applies(lattice, g)]
    if not robust:
        raise NoRuns(f"Lemma 2 speaks of γ ≤ γ₀ + 1/8 = {GAMMA0 + 1 / 8:g} and radius + γ₀ + 1/8 < 1/2: "
                     f"this lattice (radius {lattice.radius:g}) with the grid {grid} has none")
    return f"the staircase g_1's exact error: {ours}", all(errors[g] == 0 for g in robust)


FIG9A = Entry(
    name="fig9a",
    title="Figure 9a: on the lattice AT is the most robust, then the multiclass model, then natural training",
    section="App. A, C.3, Figure 9a",
    sweeps={
        "smoke": (
            Sweep("arms", ("+experiment=lattice", *PLANAR_SMOKE, "-m", "method=natural,fine2coarse,at")),
        ),
        "cpu": (Sweep("arms", ("+experiment=lattice", "-m", "method=natural,fine2coarse,at", SEEDS3)),),
        "paper": (Sweep("arms", ("+experiment=lattice", "-m", "method=natural,fine2coarse,at", SEEDS5)),),
    },
    claims=(
        Claim(
            "order",
            "App. C.3: “the decision boundary for AT is the most complex and has the highest margin "
            "(and robustness) followed by the multi-class model and then the naturally trained model”",
            "at every ε > 0 of the grid: adversarial error AT ≤ multiclass ≤ natural",
            _curves_ordered("arms", "method", ("at", "fine2coarse", "natural")),
        ),
        Claim(
            "Theorem 3 (i), exactly",
            "Theorem 3 (i): “for every γ > γ0, any linear separator f that perfectly fits the training data "
            "S_m has R_Adv,γ(f; P) ≥ 0.0005” (Lemma 1: γ0 = 0.02, discs of radius ≥ ρ = 1/(2√2) − 0.008)",
            "on the runs' lattice (its k and radius), the best separating line found over 3600 directions "
            "(then refined) has exact ℓ2 adversarial error > 0.0005 at every γ > 0.02 of the grid",
            _thm3_linear,
            per_seed=False,
        ),
        Claim(
            "Theorem 3 (ii), exactly",
            "App. A, Lemma 2: “there exists g ∈ H such that R(g; P) = 0, R_Adv,γ(g; P) = 0” "
            "for γ ∈ [γ0, γ0 + 1/8]",
            "the staircase g_1 (the parity of [x1] + [x2]) has exact ℓ2 adversarial error 0 at every γ ≤ "
            "γ0 + 1/8 = 0.145 of the grid",
            _thm3_staircase,
            per_seed=False,
        ),
    ),
    cost={
        "smoke": "≈ 10 s, CPU",
        "cpu": "9 jobs (3 arms, 3 seeds): 116 s measured on one CPU core",
        "paper": "the same (planar data)",
    },
    x="eps",
)


def _union(r: Results) -> tuple[str, bool]:
    runs = [v for v in r.select("exact", method="union_of_intervals") if float(v.get("eta")) > 0]
    if not runs:
        raise NoRuns("no union-of-intervals run with η > 0")
    ours = "; ".join(
        f"η={float(v.get('eta')):g}: train {_f(v.get('train_err'))}, test {_f(v.get('natural_err'))}, "
        f"adv {_f(v.get('adv_err'))}"
        for v in runs
    )
    holds = all(
        v.get("train_err") <= 0.001 and v.get("natural_err") <= 0.01 and v.get("adv_err") >= 0.1 for v in runs
    )
    return ours, holds


def _parity(r: Results) -> tuple[str, bool]:
    runs = r.select("exact", method="parity")
    ours = "; ".join(
        f"η={float(v.get('eta')):g}: train {_f(v.get('train_err'))}, test {_f(v.get('natural_err'))}, "
        f"adv {_f(v.get('adv_err'))}"
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


def _repr_adversarial(r: Results) -> tuple[str, bool]:
    snapshots = (r.select("repr")[0].get("representations") or {}).get("nearer_other_class") or {}
    if not snapshots:
        raise NoRuns("no representation snapshots in the run")
    last = max(snapshots, key=lambda tag: int(tag.rsplit("_", 1)[1]))  # keys may come unordered
    beside, chance = snapshots[last]["adversarial_nearest_is_mislabelled"], snapshots[last][
        "adversarial_nearest_chance"]  # fmt: skip
    return (
        f"{last}: {_f(beside)} of adversarial examples lie beside a mislabelled point of their class "
        f"(chance for the pool drawn: {_f(chance)})",
        beside >= 2 * chance and beside >= 0.5,
    )


def _repr_late_fit(r: Results) -> tuple[str, bool]:
    run = r.select("repr")[0]
    clean, noisy = run.get("fit_epoch_median_clean"), run.get("fit_epoch_median_noisy")
    if clean is None or noisy is None:
        raise NoRuns("no memorization record in the run")
    return f"median stable fit epoch: clean {clean:g}, mislabelled {noisy:g}", noisy > clean


FIG3 = Entry(
    name="fig3",
    title="Figure 3: adversarial examples sit beside the memorised mislabelled points",
    section="§3.1, Figure 3",
    sweeps={
        "smoke": (
            Sweep(
                "repr",
                (
                    "+experiment=repr_pca",
                    "data.n_train=400",
                    "data.n_test=100",
                    "trainer.max_epochs=3",
                    "trainer.min_epochs=1",
                    "representations.epochs=[1]",
                    "representations.n_points=50",
                    "representations.steps=3",
                    "attack.steps=3",
                    "attack.checks=none",
                    "-m",
                ),
            ),
        ),
        "cpu": (Sweep("repr", ("+experiment=repr_pca", "-m", SEEDS3)),),
        "paper": (Sweep("repr", ("+experiment=repr_pca", "-m", SEEDS3)),),
    },
    claims=(
        Claim(
            "beside",
            "§3.1, Figure 3: “(i) The bulk of adversarial examples ( + -es) are concentrated around the "
            "mis-labelled training data ( -es) of the opposite class.”",
            "at the end, the share of adversarial examples whose nearest training point (penultimate layer, "
            "among the clean and mislabelled points drawn) is a mislabelled point of their correct class is "
            "≥ 2× what chance gives for that pool, and ≥ 0.5 (“the bulk”)",
            _repr_adversarial,
        ),
        Claim(
            "late fit",
            "§3.1, Figure 3: “(ii) The mis-labelled training data take longer to be fit by the classifier.”",
            "median stable fit epoch of the mislabelled points > the clean points'",
            _repr_late_fit,
        ),
    ),
    cost={"smoke": "≈ 15 s, CPU", "cpu": "3 jobs (3 seeds): 105 s measured in all",
          "paper": "the same"},  # fmt: skip
    run_figures=("*/figures/representations_pca.png",),
)


# --- Wang, Zhang and Arora (2024) in its theorem's regime ---------------------------------------------
WANG_NEAR_BETA = 0.05  # "near-optimal": within 0.05 of wang_optimum (2000 test points: ±0.013 at 1 s.d.)
WANG_LOSS = 0.1  # "near-zero robust training loss" (the logistic loss starts at log 2 ≈ 0.69)
WANG_HALF = 0.45  # Theorem 3.2's 1/2, less the sampling error of 2000 test points


def _wang_runs(r: Results) -> dict[int, list]:
    runs: dict[int, list] = {}
    for v in r.select("regime"):
        runs.setdefault(int(v.get("data.d")), []).append(v)
    return {d: sorted(vs, key=lambda v: float(v.get("alpha_frac"))) for d, vs in sorted(runs.items())}


def _wang_setting(by_d: dict[int, list]) -> tuple[float, int, float]:
    """(β, n, ‖μ‖) of the sweep: the same in every run (only d and α are swept)."""
    first = next(iter(by_d.values()))[0]
    return float(first.get("eta")), int(first.get("data.n_train")), float(first.get("data.mu_norm"))


def wang_optimum(alpha_frac: float, beta: float, mu_norm: float) -> float:
    """The least robust error any classifier reaches on the noisy labels at budget α = alpha_frac·‖μ‖:
    the linear rule along μ, whose margin ‖μ‖ + ξ₁ (ξ₁ ~ N(0, 1)) an α-attack lowers by α, errs on a
    clean point with probability Φ(α − ‖μ‖) and on a flipped one unless ‖μ‖ + ξ₁ < −α; the abstract's
    "near-optimal robust generalization error" is measured from this, not from β."""
    from statistics import NormalDist

    phi, alpha = NormalDist().cdf, alpha_frac * mu_norm
    return (1 - beta) * phi(alpha - mu_norm) + beta * (1 - phi(-alpha - mu_norm))


def _wang_edge(runs: list, beta: float, mu_norm: float) -> float:
    """The largest α/‖μ‖ up to which every run's robust test error stays within 0.05 of the optimum
    (``wang_optimum``; 0: none)."""
    edge = 0.0
    for v in runs:
        alpha_frac = float(v.get("alpha_frac"))
        if float(v.get("adv_err")) > wang_optimum(alpha_frac, beta, mu_norm) + WANG_NEAR_BETA:
            break
        edge = alpha_frac
    return edge


def _wang_loss(r: Results) -> tuple[str, bool]:
    by_d = _wang_runs(r)
    _, n, _ = _wang_setting(by_d)
    # The theorem speaks of d ≫ n²: smaller d are in the sweep to show the edge grow, not judged here.
    moderate = [v for d, vs in by_d.items() if d >= n * n for v in vs if float(v.get("alpha_frac")) < 1]
    if not moderate:
        raise NoRuns(f"no run with d ≥ n² = {n * n} and α < ‖μ‖")
    worst = max(float(v.get("final_train_loss")) for v in moderate)
    ours = (f"the largest final robust training loss at d ≥ n² = {n * n}, α < ‖μ‖: {worst:.4f} "
            f"({len(moderate)} runs)")
    return ours, worst <= WANG_LOSS


def _wang_edge_grows(r: Results) -> tuple[str, bool]:
    by_d = _wang_runs(r)
    beta, n, mu = _wang_setting(by_d)
    edges = {d: _wang_edge(vs, beta, mu) for d, vs in by_d.items()}
    ours = "; ".join(f"d={d} (d/(n‖μ‖²) = {d / (n * mu * mu):.3g}): edge {e:g}‖μ‖" for d, e in edges.items())
    values = list(edges.values())
    grows = all(a <= b for a, b in zip(values, values[1:], strict=False)) and values[-1] > values[0] > 0
    return ours, grows


def _wang_lower_bound(r: Results) -> tuple[str, bool]:
    beyond = [v for vs in _wang_runs(r).values() for v in vs if float(v.get("alpha_frac")) >= 1]
    if not beyond:
        raise NoRuns("no run at α ≥ ‖μ‖")
    least = min(float(v.get("adv_err")) for v in beyond)
    return f"the least robust test error at α ≥ ‖μ‖: {least:.3f} ({len(beyond)} runs)", least >= WANG_HALF


def _wang_mnist(r: Results) -> tuple[str, bool]:
    # "no label noise": the paper scale's η = 0.1 runs are another question, not judged here.
    clean = (v for v in r.select("mnist01") if float(v.get("eta", 0)) == 0)
    runs = sorted(clean, key=lambda v: float(v.get("alpha")))
    ours = "; ".join(f"α={float(v.get('alpha')):g}: robust training loss "
                     f"{float(v.get('final_train_loss')):.3f}, robust test error {_f(v.get('adv_err'))}"
                     for v in runs)  # fmt: skip
    moderate = [v for v in runs if 0 < float(v.get("alpha")) <= 1]
    holds = bool(moderate) and all(float(v.get("final_train_loss")) <= WANG_LOSS and v.get("adv_err") <= 0.1
                                   for v in moderate)  # fmt: skip
    return ours, holds


def _wang_post(folders: dict[str, Path]) -> None:
    """The theory's figure: robust test error against α/‖μ‖ per d, and the α-edge against d/(n‖μ‖²)."""
    from benign_lightning.figures import plot_wang_regime

    runs = Results({"regime": folders["regime"]})
    by_d = _wang_runs(runs)
    if not by_d:
        return
    beta, n, mu = _wang_setting(by_d)
    curves = {d: [(float(v.get("alpha_frac")), float(v.get("adv_err"))) for v in vs]
              for d, vs in by_d.items()}  # fmt: skip
    edges = {d / (n * mu * mu): _wang_edge(vs, beta, mu) for d, vs in by_d.items()}
    plot_wang_regime(curves, edges, beta, folders["regime"] / "wang_regime.png")


# d = 10⁴ = n² is the smallest d of the theorem's regime (the loss claim is judged there); 2·10⁴ took
# ~4× d = 5000's 272 s a run, too long for the CPU scale's 5 budgets.
WANG_D_CPU = "data.d=500,2000,5000,10000"
WANG_ALPHA = "alpha_frac=0.25,0.5,0.75,1,1.25"
WANG2024 = Entry(
    name="wang2024",
    title="Wang, Zhang and Arora (2024): benign overfitting in adversarial training, in its theorem's regime",
    section="Wang et al. 2024 (seeds 002/003, PAPER.md; beyond the paper)",
    sweeps={
        "smoke": (
            Sweep("regime", ("+experiment=wang2024", "trainer.max_epochs=20", "attack.steps=3",
                             "attack.checks=none", "model.kwargs.width=20", "-m", "data.d=50,200",
                             "alpha_frac=0.5,1")),
            Sweep("mnist01", ("+experiment=wang2024_mnist", "trainer.max_epochs=20", "attack.steps=3",
                              "attack.checks=none", "model.kwargs.width=20", "-m", "alpha=0,1")),
        ),
        # The CPU scale: width 100 (the paper's 1000 would take hours per run at d = 2·10⁴: a
        # 2·10⁷-parameter first layer through 21 passes of 100 points per iteration), one seed.
        "cpu": (
            Sweep("regime", ("+experiment=wang2024", "model.kwargs.width=100", "-m", WANG_D_CPU, WANG_ALPHA)),
            Sweep("mnist01", ("+experiment=wang2024_mnist", "-m", "alpha=0,0.5,1,1.5,2,3")),
        ),
        "paper": (
            Sweep("regime", ("+experiment=wang2024", "-m", "data.d=500,2000,10000,20000,100000",
                             "alpha_frac=0,0.25,0.5,0.75,0.9,1,1.25,1.5", "seed=range(10)")),
            Sweep("mnist01", ("+experiment=wang2024_mnist", "-m", "alpha=0,0.5,1,1.5,2,3", "eta=0,0.1",
                              "seed=range(10)")),
        ),
    },  # fmt: skip
    claims=(
        Claim(
            "near-zero robust training loss",
            "Wang et al. 2024 (abstract): adversarial training “can achieve near-zero robust training loss”",
            f"every run with d ≥ n² (the theorem's regime) and α < ‖μ‖ ends with robust training loss "
            f"≤ {WANG_LOSS}",
            _wang_loss,
        ),
        Claim(
            "moderate budget grows with d",
            "Wang et al. 2024 (abstract): “near-optimal robust generalization error” under a “moderate ℓ2 "
            "perturbation budget”; the analysis needs d ≫ n² and d ≳ n‖μ‖² (PAPER.md)",
            f"the α-edge (the largest α/‖μ‖ up to which the robust test error stays within {WANG_NEAR_BETA} "
            "of the optimum (1−β)Φ(α−‖μ‖) + β(1−Φ(−α−‖μ‖)), that of the rule along μ) "
            "is positive, never falls as d grows, and is larger at the largest d than at the smallest",
            _wang_edge_grows,
        ),
        Claim(
            "lower bound",
            "Wang et al. 2024, Theorem 3.2 (PAPER.md): for α ≥ ‖μ‖ every classifier has robust error ≥ 1/2",
            f"every run with α ≥ ‖μ‖ has robust test error ≥ {WANG_HALF} (1/2 less the sampling error of "
            "2000 test points)",
            _wang_lower_bound,
        ),
        Claim(
            "MNIST 0 vs 1",
            "Wang et al. 2024, the real-data study (PAPER.md): MNIST digits 0 vs 1, n = 100, no label noise",
            f"at the moderate budgets of the grid (0 < α ≤ 1, pixels in [0, 1]) the robust training loss is "
            f"≤ {WANG_LOSS} and the robust test error ≤ 0.1 (our thresholds: the paper's numbers are not in "
            "the seeds)",
            _wang_mnist,
        ),
    ),
    cost={"smoke": "≈ 30 s, CPU",
          "cpu": "20 runs of the regime (width 100; measured 25 s at d = 500, 60–105 s at 2000, "
                 "272 s at 5000, "
                 "so ≈ 75 min in all) and 6 on MNIST 0 vs 1, one seed",
          "paper": "a GPU sweep: 5 d × 8 α × 10 seeds at width 1000, and the MNIST study"},  # fmt: skip
    notes=(
        "The setting (n = 100, β = 0.1, width 1000, fixed ±1/√m second layer, symmetric initialisation, "
        "full-batch GD, PGD-20, 1000 iterations, 10 seeds) is PAPER.md's reading of Wang et al.; ‖μ‖ = 10 "
        "and the step size are ours. The CPU scale uses width 100 and one seed; d = 10⁵ (a 10⁸-parameter "
        "first layer at width 1000) is the paper scale's, a GPU job.",
    ),
    run_figures=("wang_regime.png",),
    post=_wang_post,
)


def _single_run(folder: Path) -> Path:
    runs = sorted(p.parent for p in folder.glob("*/results.json"))
    if not runs:
        raise NoRuns(f"no finished run under {folder}")
    return runs[0]


def _influence(folders: dict[str, Path]) -> None:
    """Zhang & Feldman's estimates of the ensemble job against the robust and the natural run."""
    from benign_lightning import influence

    jobs = sorted(p.parent for p in folders["mem"].glob("*/member_0"))
    if jobs:
        influence.write(jobs[0], _single_run(folders["robust"]), _single_run(folders["natural"]))


def _influence_summary(r: Results) -> dict:
    import json

    found = sorted(r.sweep_dirs["mem"].glob("*/memorization_summary.json"))
    if not found:
        raise NoRuns(
            "no memorization_summary.json (the ensemble job or the influence step did not finish)"
        )
    summary = json.loads(found[0].read_text())
    if summary.get("mem_mean_robust_unfit") is None:
        raise NoRuns("the robust run leaves no training point unfit")
    return summary


def _fig5a(r: Results) -> tuple[str, bool]:
    s = _influence_summary(r)
    unfit, all_points = s["mem_mean_robust_unfit"], s["mem_mean"]
    ours = (
        f"mean self-influence of the {s['n_robust_unfit']} points the robust run leaves unfit (natural "
        f"fits): {_f(unfit)}; of all points: {_f(all_points)} ({s['models']} models)"
    )
    return ours, unfit >= 2 * all_points


def _fig5b(r: Results) -> tuple[str, bool]:
    s = _influence_summary(r)
    wrong, all_points, n = s["max_infl_mean_robust_test_wrong"], s["max_infl_mean"], s["n_robust_test_wrong"]
    if wrong is None or n < FIG5B_LEAST_POINTS:
        raise TooFew(f"{n} test points misclassified by the robust run (the least: {FIG5B_LEAST_POINTS})")
    ours = (
        f"mean largest influence on the {n} test points the robust run misclassifies: {_f(wrong)}; on all "
        f"test points: {_f(all_points)}"
    )
    return ours, wrong > all_points


# Below this many misclassified test points Figure 5b's mean is too noisy to judge: with 12-64 models
# each point's largest influence moves in steps of 1/12 or more, and a mean over a handful of points
# can land either side of the test set's (the toy-MNIST run once judged it on 2 points).
FIG5B_LEAST_POINTS = 20
MNIST_MEM_CPU = ("data.train_subset=2000", "data.test_subset=500", "data_seed=0", "eta=0",
                 "trainer.max_epochs=10", "attack=linf", "attack.steps=10")  # fmt: skip
TOY_SMALL = ("data.n_train=200", "data.n_test=100", "trainer.max_epochs=3", "trainer.min_epochs=1")
FIG5 = Entry(
    name="fig5",
    title="Figure 5: the points robust training gets wrong are the memorised, highly influential ones",
    section="§3.2, Figure 5 (Zhang & Feldman 2020's estimates)",
    sweeps={
        "smoke": (
            Sweep("mem", ("+experiment=memorization_toy", *TOY_SMALL, "ensemble.size=4", "-m")),
            Sweep(
                "robust",
                (
                    "+experiment=toy_mnist",
                    *TOY_SMALL,
                    *SMOKE_ATTACK,
                    "memorization=true",
                    "method=at",
                    "eps=0.05",
                    "data_seed=0",
                    "train_attack.steps=2",
                    "-m",
                ),
            ),
            Sweep("natural", ("+experiment=toy_mnist", *TOY_SMALL, *SMOKE_ATTACK, "data_seed=0", "-m")),
        ),
        # Clean MNIST (η = 0): the points the robust model leaves unfit are MNIST's own rare digits, as
        # the paper's are CIFAR-10's, not flipped labels (bench/README.md, Memorization: 671 s for the
        # 12 members).
        "cpu": (
            Sweep("mem", ("+experiment=memorization_mnist", *MNIST_MEM_CPU, "ensemble.size=12",
                          "memorization_every_n_epochs=2", "-m")),
            # ε grows to 0.3 over 3 of the 10 epochs (the recipe's 10 would end the run mid-ramp).
            Sweep("robust", ("+experiment=mnist_robust_noise", "method=trades", *MNIST_MEM_CPU,
                             "train_attack.eps_warmup_epochs=3", "attack.checks=cheap", "-m")),
            Sweep("natural", ("+experiment=mnist_noise", *MNIST_MEM_CPU, "-m")),
        ),  # fmt: skip
        "paper": (
            Sweep("mem", ("+experiment=memorization_mnist", "-m")),
            Sweep(
                "robust", ("+experiment=mnist_robust_noise", "method=trades", "eta=0", "data_seed=0", "-m")
            ),
            Sweep("natural", ("+experiment=mnist_noise", "eta=0", "data_seed=0", "-m")),
        ),
    },
    claims=(
        Claim(
            "5a",
            "§3.2, Figure 5a: “the self-influence of training samples that were mis-classified by "
            "adversarially trained models but correctly classified by a naturally trained model is higher "
            "compared to the distribution of self-influence on the entire train dataset”",
            "mean self-influence of the points the robust run leaves unfit (and natural training fits) "
            "≥ 2× the mean over all training points",
            _fig5a,
            per_seed=False,
        ),
        Claim(
            "5b",
            "§3.2, Figure 5b: “the influence of training images are higher on test images that are "
            "mis-classified by adversarially trained models as compared to an average test image from the "
            "dataset”",
            f"mean largest influence on the test points the robust run misclassifies > on all test points; "
            f"judged on at least {FIG5B_LEAST_POINTS} such test points",
            _fig5b,
            per_seed=False,
        ),
    ),
    cost={
        "smoke": "≈ 30 s, CPU",
        "cpu": "12 members + 2 runs on 2000 MNIST images: 915 s the ensemble, 1311 s TRADES, 100 s natural "
               "measured on one CPU core",
        "paper": "64 MNIST members + TRADES: ≈ 4 GPU-hours",
    },
    needs="MNIST (BENIGN_DATA_DIR/MNIST/raw)",
    notes=(
        "Substitution: the paper's Figure 5 is CIFAR-10 and an adversarially trained model, with Zhang & "
        "Feldman's published scores. Here the estimates are our own, on clean MNIST (η = 0) with TRADES "
        "(ε = 0.3, λ = 1/6: the paper's MNIST model of Figure 4), so the points the robust model leaves "
        "unfit are MNIST's rare, correctly labelled digits. The CPU scale has 12 members on 2000 images; "
        "Zhang & Feldman used 2000 models.",
    ),
    run_figures=("*/figures/figure5.png",),
    post=_influence,
)


# --- Figures 1 and 4: the rare examples, from Figure 5's runs ----------------------------------------
def _rare_examples(folders: dict[str, Path]) -> None:
    """Figure 5's estimates (if not there yet), then Figures 1 and 4 into the ensemble job."""
    from benign_lightning import rare_examples

    _influence(folders)
    jobs = sorted(p.parent for p in folders["mem"].glob("*/memorization_scores.npz"))
    if jobs:
        rare_examples.write(jobs[0], _single_run(folders["robust"]), _single_run(folders["natural"]))


def _rare(r: Results, figure: str) -> dict:
    import json

    found = sorted(r.sweep_dirs["mem"].glob("*/rare_examples.json"))
    if not found:
        raise NoRuns("no rare_examples.json (the runs or the step after them did not finish)")
    return json.loads(found[0].read_text())[figure]


FIG1_LEAST_SHOWN = 8
FIG5_RUNS_COST = {"smoke": "Figure 5's runs", "cpu": "Figure 5's runs (≈ 40 min), then seconds",
                  "paper": "Figure 5's runs"}  # fmt: skip


def _fig1(r: Results) -> tuple[str, bool]:
    s = _rare(r, "figure1")
    n = s["n_memorized"]
    if n < FIG1_LEAST_SHOWN:
        raise TooFew(f"{n} natural-fit training points have a memorization score "
                     f"(the least: {FIG1_LEAST_SHOWN})")
    ours = (
        f"of the {n} training points natural training fits with the highest memorization score (≥ "
        f"{s['memorized_least_mem']:.2f}), the robust model predicts the given label on "
        f"{s['n_memorized_robust_predicts_given']}; the grid: the {s['n_shown']} of lowest robust margin (of "
        f"{s['n_robust_unfit_natural_fit']} the robust run leaves unfit and natural training fits, of "
        f"{s['n_robust_unfit']} it leaves unfit among {s['n_train']})"
    )
    return ours, s["n_memorized_robust_predicts_given"] == 0


FIG4_LEAST_PAIRS = 10
# Figures 1 and 4 rest on Zhang & Feldman's estimates from thousands of models (the paper's Figure 4
# used their published ones, Figure 1 points chosen by hand); the CPU scale's 12 members leave each
# point out ~3.6 times, so a score moves by ~0.3 with one miss: too coarse to rank the top 24 of 2000
# or a test point's top 10. Their claims are judged at the paper scale; smaller scales show numbers.
RARE_SCALES = ("paper",)
RARE_REGIME = ("12 ensemble members (CPU scale) give memorization and influence estimates too coarse to "
               "rank the few points the claim is about; judged at the paper scale (64 members, full MNIST)")


def _fig4_pairs(r: Results) -> tuple[str, bool]:
    from scipy.stats import binomtest

    s = _rare(r, "figure4")
    n = s["n_pairs"]
    if n < FIG4_LEAST_PAIRS:
        raise TooFew(f"{n} pairs (the least judged: {FIG4_LEAST_PAIRS})")
    k, chance = s["same_class_count"], s["same_class_chance"]
    p = binomtest(k, n, chance, alternative="greater").pvalue
    ours = f"{k} of {n} pairs share their class ({_f(k / n)}; chance {_f(chance)}, binomial p {p:.2g})"
    return ours, p < 0.05


def _fig4_influence(r: Results) -> tuple[str, bool]:
    s = _rare(r, "figure4")
    share, base = s["influence_share_from_unfit"], s["unfit_fraction"]
    if share is None:
        raise TooFew("no test point that the robust run misclassifies and natural training does not")
    ours = (f"on the {s['n_test_wrong']} test points the robust run misclassifies (and natural training "
            "does not), "
            f"{_f(share)} of their top-10 influence comes from training points the robust run leaves unfit "
            f"({_f(base)} of the training set)")  # fmt: skip
    # "mostly" (≥ 0.5) and "disproportionately" (≥ 5× the unfit points' share of the training set).
    return ours, share >= 0.5 and share >= 5 * base


def _on_figure5s_runs(**fields) -> Entry:
    """An entry that runs nothing of its own: Figure 5's runs, then the step that draws it."""
    return Entry(sweeps=FIG5.sweeps, runs_of="fig5", cost=FIG5_RUNS_COST,
                 needs="MNIST (BENIGN_DATA_DIR/MNIST/raw)", post=_rare_examples, **fields)  # fmt: skip


FIG1 = _on_figure5s_runs(
    name="fig1",
    title="Figure 1: training images whose label robust training does not fit and natural training does",
    section="§1, §3.2, Figure 1",
    claims=(
        Claim(
            "neither fits",
            "§3.2: “for both AT and TRADES, we found that neither predicts correctly on the training set "
            "labels for any of the examples identified in Figure 1, all examples that have a wrong label in "
            "the training set, whereas natural training does.”",
            f"the points are identified without the robust model (else the check holds by construction): "
            f"the {FIGURE1_SHOWN} training points natural training fits with the highest memorization score "
            f"(Zhang & Feldman's estimate from the ensemble: fitted only when seen, as mislabelled and "
            f"atypical points are; at least {FIG1_LEAST_SHOWN}); the robust model predicts the given label "
            "on none",
            _fig1,
            per_seed=False,
            scales=RARE_SCALES,
            regime=RARE_REGIME,
        ),
    ),
    notes=(
        "The runs are Figure 5's: clean MNIST (η = 0: only MNIST's own label noise), natural training and "
        "TRADES (ε = 0.3, λ = 1/6, the paper's MNIST TRADES model); at CPU scale 2000 images and 10 epochs. "
        "The grid shows the training points of lowest robust margin on their given label, with both models' "
        "predictions (figure1.csv has their dataset indices and memorization scores): whether those labels "
        "are wrong is for the reader to judge, as in the paper.",
    ),
    run_figures=("*/figures/figure1.png",),
)
FIG4 = _on_figure5s_runs(
    name="fig4",
    title="Figure 4: a misclassified test image and the rare training image it takes after",
    section="§3.2, App. D.2, Figure 4",
    claims=(
        Claim(
            "same class",
            "App. D.2: “We searched in the set of top-10 most influential mis-classified train images for "
            "each mis-classified test image.” Figure 4: “Each pair is a training (left) and test (right) "
            "image mis-classified by the adversarially trained model.”",
            f"the pairs (a test point the robust model misclassifies and natural training does not, and its "
            f"most influential such training point among its top 10) share their class more often than "
            f"chance (one-sided binomial test, p < 0.05; at least {FIG4_LEAST_PAIRS} pairs)",
            _fig4_pairs,
            per_seed=False,
            scales=RARE_SCALES,
            regime=RARE_REGIME,
        ),
        Claim(
            "influence",
            "§3.2: “the training images in Figure 4 has a disproportionately higher influence on the "
            "corresponding test image compared to influences of other train-test image pairs”",
            "on those test points, most (≥ 0.5) of the (positive) influence of their top-10 training points "
            "comes from training points the robust model leaves unfit, and at least 5× those points' share "
            "of the training set",
            _fig4_influence,
            per_seed=False,
            scales=RARE_SCALES,
            regime=RARE_REGIME,
        ),
    ),
    notes=(
        "The runs are Figure 5's (clean MNIST, TRADES ε = 0.3: the paper's MNIST model of Figure 4), and the "
        "influence estimates are our own ensemble's (Zhang & Feldman's estimator, 12 models at CPU scale).",
    ),
    run_figures=("*/figures/figure4.png",),
)


def _detect(folders: dict[str, Path]) -> None:
    """``detect`` on the entry's runs; its table and PR curves go into the natural sweep's folder."""
    from benign_lightning.detect import detect

    detect([folders[k] for k in ("natural", "cv", "robust")], folders["natural"])


def _detection_rows(r: Results) -> dict[str, dict[str, str]]:
    import csv

    path = r.sweep_dirs["natural"] / "detection.csv"
    if not path.exists():
        raise NoRuns("no detection.csv (the runs or the detect step did not finish)")
    with open(path) as f:
        return {row["detector"]: row for row in csv.DictReader(f)}


def _detection_at(r: Results) -> tuple[str, bool]:
    at = _detection_rows(r).get("AT training errors")
    if at is None:
        raise NoRuns("no AT run in the detection table")
    ours = f"AT: precision {at['precision']}, recall {at['recall']}, AUROC {at['auroc']} of its margin"
    return ours, float(at["auroc"]) >= 0.9


def _detection_vs_cl(r: Results) -> tuple[str, bool]:
    rows = _detection_rows(r)
    at, cl = (
        rows.get("AT training errors"),
        next((v for k, v in rows.items() if k.startswith("confident")), None),
    )
    if at is None or cl is None:
        raise NoRuns("the detection table lacks AT or confident learning")
    return f"average precision: AT {at['ap']}, confident learning {cl['ap']}", float(at["ap"]) >= float(
        cl["ap"]
    )


DETECT_COMMON = ("+experiment=noise_detection", "arch=mlp", "model=mlp_2x1000", "figures=false")
ROBUST = ("small_loss_epoch=null",)  # the robust runs' own detector reads their margins
DETECT_CPU = (*DETECT_COMMON, "data.train_subset=4000", "data.test_subset=500")
DETECT_SMOKE = (*DETECT_COMMON, "data.train_subset=300", "data.test_subset=100", "attack.steps=3")
CV = ("method=natural", "ensemble.size=4", "data.cv_folds=4", "memorization=false", "small_loss_epoch=null")
DETECTION = Entry(
    name="detection",
    title="Noise detection: robust training's errors against confident learning on one noise mask",
    section="§3.2's detector (beyond the paper: Northcutt et al. 2021's confident learning)",
    sweeps={
        "smoke": (
            Sweep(
                "natural",
                (*DETECT_SMOKE, "trainer.max_epochs=3", "small_loss_epoch=2", "-m", "method=natural"),
            ),
            Sweep("cv", (*DETECT_SMOKE, *CV, "trainer.max_epochs=2", "-m")),
            Sweep(
                "robust",
                (*DETECT_SMOKE, *ROBUST, "train_attack.steps=2", "trainer.max_epochs=2", "-m", "method=at"),
            ),
        ),
        "cpu": (
            Sweep("natural", (*DETECT_CPU, "trainer.max_epochs=60", "-m", "method=natural")),
            Sweep("cv", (*DETECT_CPU, *CV, "trainer.max_epochs=20", "-m")),
            Sweep(
                "robust",
                (
                    *DETECT_CPU,
                    *ROBUST,
                    "train_attack.steps=5",
                    "trainer.max_epochs=20",
                    "-m",
                    "method=at,trades",
                ),
            ),
        ),
        "paper": (
            Sweep("natural", ("+experiment=noise_detection", "-m", "method=natural")),
            Sweep("cv", ("+experiment=noise_detection", *CV, "-m")),
            Sweep(
                "robust",
                (
                    "+experiment=noise_detection",
                    *ROBUST,
                    "eps=0.3",
                    "train_attack.steps=30",
                    "train_attack.step_size=0.01",
                    "-m",
                    "method=at,trades",
                ),
            ),
        ),
    },
    claims=(
        Claim(
            "ranking",
            "beyond the paper: §3.2 reads robust training's training errors as the mislabelled points (its "
            "precision claim is judged in sec3.2); here AT's score, minus its margin on the given label, "
            "ranks the noise mask",
            "AUROC of AT's score against the noise mask ≥ 0.9",
            _detection_at,
            per_seed=False,
        ),
        Claim(
            "vs confident learning",
            "beyond the paper: does §3.2's detector rank the mislabelled points as "
            "well as confident learning (Northcutt et al. 2021) on the same mask?",
            "AT's average precision ≥ confident learning's (4-fold CV)",
            _detection_vs_cl,
            per_seed=False,
        ),
    ),
    cost={
        "smoke": "≈ 40 s, CPU",
        "cpu": "4 jobs on 4000 MNIST images (uniform η = 0.15), 2.6 min measured",
        "paper": "full MNIST, 30-step AT: ≈ 6 GPU-hours",
    },
    needs="MNIST (BENIGN_DATA_DIR/MNIST/raw)",
    post=_detect,
)


# In the paper's order: §3.1, §3.2, the appendix, the theory, then beyond the paper.
ENTRIES: tuple[Entry, ...] = (
    FIG1, FIG2A, FIG2B, FIG2CDE, FIG3, SEC32, FIG4, FIG5, TABLE1, FIG7, FIG8, FIG9A, FIG9B, FIG9C, THM2,
    WANG2024, DETECTION,
)  # fmt: skip


def entry(name: str) -> Entry:
    for e in ENTRIES:
        if e.name == name:
            return e
    raise KeyError(f"{name!r} is not a known figure; known: {', '.join(e.name for e in ENTRIES)}")
