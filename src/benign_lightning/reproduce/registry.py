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

from benign_lightning.reproduce.results import Results

SCALES = ("smoke", "cpu", "paper")
Check = Callable[[Results], tuple[str, bool]]


@dataclass(frozen=True)
class Sweep:
    """One call of the app: ``name`` is its folder; ``args`` its command line (``-m`` and sweeps)."""

    name: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Claim:
    """One claim of the paper: where it is said, what it says (with the threshold used), the check."""

    id: str
    source: str
    paper: str
    check: Check


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
def _fig2a_rows(r: Results, sigma2: float) -> dict[float, dict[str, float]]:
    runs = r.select("toy", **{"data.sigma2": sigma2})
    etas = sorted({float(v.get("eta")) for v in runs})
    return {
        e: {
            k: r.mean("toy", k, eta=e, **{"data.sigma2": sigma2})
            for k in ("train_err", "natural_err", "adv_err")
        }
        for e in etas
    }


def _fig2a_ours(rows: dict[float, dict[str, float]]) -> str:
    return "; ".join(
        f"η={e:g}: train {_f(v['train_err'])}, test {_f(v['natural_err'])}, adv {_f(v['adv_err'])}"
        for e, v in rows.items()
    )


def _fig2a_low_variance(r: Results) -> tuple[str, bool]:
    rows = _fig2a_rows(r, 0.1)
    holds = all(v["train_err"] >= e / 2 for e, v in rows.items() if e > 0) and all(
        v["natural_err"] <= 0.1 and v["adv_err"] <= 0.1 for v in rows.values()
    )
    return _fig2a_ours(rows), holds


def _fig2a_mid_variance(r: Results) -> tuple[str, bool]:
    rows = _fig2a_rows(r, 0.3)
    base = rows[min(rows)]
    holds = base["natural_err"] <= 0.05 and base["adv_err"] <= 0.05
    memorising = [e for e, v in rows.items() if e > 0 and v["train_err"] < e]
    if memorising:
        v = rows[min(memorising)]
        holds = holds and v["adv_err"] - base["adv_err"] >= 0.3 and v["natural_err"] <= 0.1
    return _fig2a_ours(rows), holds


def _fig2a_high_variance(r: Results) -> tuple[str, bool]:
    rows = _fig2a_rows(r, 0.5)
    lo, hi = rows[min(rows)], rows[max(rows)]
    adv_rise, test_rise = hi["adv_err"] - lo["adv_err"], hi["natural_err"] - lo["natural_err"]
    holds = (
        all(v["train_err"] <= 0.01 for v in rows.values()) and adv_rise >= 0.3 and adv_rise >= 2 * test_rise
    )
    return _fig2a_ours(rows), holds


FIG2A = Entry(
    name="fig2a",
    title="Figure 2a: toy-MNIST, adversarial error rises with label noise once the noise is memorised",
    section="§3.1, Figure 2a, Remark 1",
    sweeps={
        "smoke": (Sweep("toy", ("+experiment=toy_mnist", *TOY_SMOKE, "-m", "eta=0,0.2", "data.sigma2=0.5")),),
        "cpu": (Sweep("toy", ("+experiment=toy_mnist", "-m", "eta=0,0.1,0.2", "data.sigma2=0.1,0.3,0.5")),),
        "paper": (
            Sweep(
                "toy",
                (
                    "+experiment=toy_mnist",
                    "-m",
                    "eta=0,0.05,0.1,0.2",
                    "data.sigma2=0.1,0.3,0.5",
                    "seed=0,1,2",
                ),
            ),
        ),
    },
    claims=(
        Claim(
            "sigma2=0.1",
            "§3.1: “when the variance is low (σ² = 0.1) the network is unable to memorize the label noise”",
            "training error stays high (≥ η/2 at every η > 0); test and adversarial error low (≤ 0.1)",
            _fig2a_low_variance,
        ),
        Claim(
            "sigma2=0.3",
            "§3.1: at σ² = 0.3, “when the label noise is low … test error and adversarial error "
            "is zero … when the network starts memorizing … adversarial error increases rapidly”",
            "≤ 0.05 test and adversarial error at η = 0; at the first η where training error < η the "
            "adversarial error ≥ 0.3 above η = 0's, test error ≤ 0.1",
            _fig2a_mid_variance,
        ),
        Claim(
            "sigma2=0.5",
            "§3.1, Remark 1: at σ² = 0.5 the network memorises the noise and the adversarial "
            "error rises with η much faster than the test error",
            "training error ≤ 0.01 at every η; the "
            "adversarial error's rise from the smallest to the largest η ≥ 0.3 and ≥ 2× the test error's",
            _fig2a_high_variance,
        ),
    ),
    cost={
        "smoke": "≈ 10 s, CPU",
        "cpu": "9 jobs, ≈ 20 min on 2 CPU cores",
        "paper": "36 jobs, ≈ 1 h on 2 CPU cores",
    },
    plot_by=("data.sigma2",),
    paper_numbers=(
        ("training error at σ² = 0.5", "0 at every η (Figure 2a)"),
        ("adversarial error at σ² = 0.5, ε = 64/255", "rises from ≈ 0 to ≈ 1 with η"),
    ),
)


# --- Figure 2b ------------------------------------------------------------------------------------
def _fig2b_jump(r: Results) -> tuple[str, bool]:
    etas = sorted({float(v.get("eta")) for v in r.select("mnist")})
    lo, hi = etas[0], etas[-1]
    adv = {e: r.mean("mnist", "adv_err", eta=e) for e in (lo, hi)}
    test = {e: r.mean("mnist", "natural_err", eta=e) for e in (lo, hi)}
    adv_rise, test_rise = adv[hi] - adv[lo], test[hi] - test[lo]
    ours = (
        f"η {lo:g} → {hi:g}: adversarial error (ε = 0.1) {_f(adv[lo])} → {_f(adv[hi])}, "
        f"test error {_f(test[lo])} → {_f(test[hi])}"
    )
    return ours, adv_rise >= 0.2 and adv_rise >= 2 * test_rise


FIG2B = Entry(
    name="fig2b",
    title="Figure 2b: MNIST, adversarial error jumps with label noise, test error grows slowly",
    section="§3.1, Figure 2b, App. D.1",
    sweeps={
        "smoke": (Sweep("mnist", ("+experiment=mnist_noise", *MNIST_SMOKE, "-m", "eta=0,0.2")),),
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
                ),
            ),
        ),
        "paper": (Sweep("mnist", ("+experiment=mnist_noise", "-m", "eta=0,0.05,0.1,0.2")),),
    },
    claims=(
        Claim(
            "jump",
            "§3.1: “the adversarial error jumps sharply with increasing label noise, while the "
            "growth of natural test error is much slower”",
            "from the smallest to the largest η the "
            "adversarial error at ε = 0.1 rises by ≥ 0.2 and by ≥ 2× the test error's rise",
            _fig2b_jump,
        ),
    ),
    cost={
        "smoke": "≈ 15 s, CPU",
        "cpu": "2 jobs on 2000 images, ≈ 10 min on 2 CPU cores",
        "paper": "4 jobs × 60 epochs on 60k images, ≈ 1 GPU-hour",
    },
    needs="MNIST (BENIGN_DATA_DIR/MNIST/raw)",
)


# --- §3.2 ------------------------------------------------------------------------------------------
def _natural_fits_all(r: Results) -> tuple[str, bool]:
    err = r.mean("methods", "train_err", method="natural")
    return f"natural training error {_f(err)}", err <= 0.01


def _robust_errors_mislabelled(method: str) -> Check:
    def check(r: Results) -> tuple[str, bool]:
        run = r.select("methods", method=method)[0]
        n, hits = run.get("n_train_errors"), run.get("n_train_errors_mislabelled")
        precision = run.get("noise_detect_precision")
        ours = f"{n} training errors, {hits} mislabelled (precision {_f(precision or 0)})"
        return ours, bool(n) and precision is not None and precision >= 0.95

    return check


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
        "cpu": (
            Sweep(
                "methods",
                (
                    "+experiment=mnist_robust_noise",
                    "eps=0.1",
                    "data.train_subset=2000",
                    "data.test_subset=500",
                    "train_attack.steps=5",
                    "trainer.max_epochs=10",
                    "attack=linf",
                    "attack.checks=cheap",
                    "-m",
                    "method=natural,at,trades",
                ),
            ),
        ),
        "paper": (Sweep("methods", ("+experiment=mnist_robust_noise", "-m", "method=natural,at,trades")),),
    },
    claims=(
        Claim(
            "natural",
            "§3.2: natural training fits the noisy training set (100% training accuracy)",
            "training error ≤ 0.01",
            _natural_fits_all,
        ),
        Claim(
            "at",
            "§3.2: “an adversarially trained model … mis-classified 997 examples in the training set … "
            "Out of these 997 samples, 994 examples were mislabelled”",
            "it has training errors, and ≥ 95% of them are mislabelled (the paper: 994 / 997 = 0.997)",
            _robust_errors_mislabelled("at"),
        ),
        Claim(
            "trades",
            "§3.2: the same of TRADES (λ = 1/6)",
            "training errors, ≥ 95% of them mislabelled",
            _robust_errors_mislabelled("trades"),
        ),
    ),
    cost={
        "smoke": "≈ 20 s, CPU",
        "cpu": "3 jobs on 2000 images, ≈ 15 min on 2 CPU cores",
        "paper": "3 jobs × 100 epochs on 60k images, AT with 30 steps: ≈ 5 GPU-hours",
    },
    needs="MNIST (BENIGN_DATA_DIR/MNIST/raw)",
    paper_numbers=(("AT's training errors", "997, of which 994 mislabelled"),),
)

ENTRIES: tuple[Entry, ...] = (FIG2A, FIG2B, SEC32)


def entry(name: str) -> Entry:
    for e in ENTRIES:
        if e.name == name:
            return e
    raise KeyError(f"{name!r} is not a known figure; known: {', '.join(e.name for e in ENTRIES)}")
