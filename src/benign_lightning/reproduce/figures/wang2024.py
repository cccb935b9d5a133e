"""Wang, Zhang and Arora (2024): benign overfitting in adversarial training, in its theorem's regime
(Wang et al. 2024 (seeds 002/003, PAPER.md; beyond the paper)): its sweeps per scale and its claims,
each with the check that judges it."""

from __future__ import annotations

from pathlib import Path

from benign_lightning.reproduce.entry import Claim, Entry, Sweep
from benign_lightning.reproduce.figures.shared import fmt3
from benign_lightning.reproduce.results import NoRuns, Results

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


def _by_alpha(runs: list) -> dict[float, list[float]]:
    """The robust test errors at each α/‖μ‖, in increasing α (several seeds: several errors)."""
    errors: dict[float, list[float]] = {}
    for v in runs:
        errors.setdefault(float(v.get("alpha_frac")), []).append(float(v.get("adv_err")))
    return dict(sorted(errors.items()))


def _wang_edge(runs: list, beta: float, mu_norm: float) -> float:
    """The largest α/‖μ‖ up to which every run's robust test error, at that budget and every smaller
    one, stays within 0.05 of the optimum (``wang_optimum``; 0: none). Runs of several seeds at one
    α must all pass: one that passes does not carry the others."""
    edge = 0.0
    for alpha_frac, errors in _by_alpha(runs).items():
        if max(errors) > wang_optimum(alpha_frac, beta, mu_norm) + WANG_NEAR_BETA:
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
                     f"{float(v.get('final_train_loss')):.3f}, robust test error {fmt3(v.get('adv_err'))}"
                     for v in runs)  # fmt: skip
    moderate = [v for v in runs if 0 < float(v.get("alpha")) <= 1]
    holds = bool(moderate) and all(float(v.get("final_train_loss")) <= WANG_LOSS and v.get("adv_err") <= 0.1
                                   for v in moderate)  # fmt: skip
    return ours, holds


def _wang_post(folders: dict[str, Path]) -> None:
    """The theory's figure: robust test error against α/‖μ‖ per d, and the α-edge against d/(n‖μ‖²)."""
    from benign_lightning.analysis.figures import plot_wang_regime

    runs = Results({"regime": folders["regime"]})
    by_d = _wang_runs(runs)
    if not by_d:
        return
    beta, n, mu = _wang_setting(by_d)
    # one point per α: the seeds' mean robust test error
    curves = {d: [(a, sum(e) / len(e)) for a, e in _by_alpha(vs).items()] for d, vs in by_d.items()}
    edges = {d / (n * mu * mu): _wang_edge(vs, beta, mu) for d, vs in by_d.items()}
    plot_wang_regime(curves, edges, beta, folders["regime"] / "wang_regime.png")


# d = 10⁴ = n² is the smallest d of the theorem's regime (the loss claim is judged there); the issue
# asks for 2·10⁴ at CPU scale (measured alone on this CPU: 155–175 s a run at d = 10⁴).
WANG_D_CPU = "data.d=500,2000,5000,10000,20000"
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
          "cpu": "25 runs of the regime (width 100; measured alone 25 s at d = 500, 60–105 s at 2000, "
                 "272 s at 5000, 155–175 s at 10⁴, so ≈ 1 h 20 min in all) and 6 on MNIST 0 vs 1, one seed",
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
