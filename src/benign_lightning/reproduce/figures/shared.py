"""What several figures share: the smoke settings, and the checks on adversarial-error curves."""

from __future__ import annotations

from pathlib import Path

from benign_lightning.reproduce.entry import Check
from benign_lightning.reproduce.results import NoRuns, Results

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


def fmt3(x: float) -> str:
    return f"{x:.3f}"


def eps_curve(run) -> dict[float, float]:
    return {float(k): float(v) for k, v in (run.get("adv_err_by_eps") or {}).items()}


def curves_ordered(sweep: str, key: str, order: tuple[str, ...]) -> Check:
    """At every ε of the grid, the runs' adversarial errors in ``order`` (lowest first)."""

    def check(r: Results) -> tuple[str, bool]:
        curves = {name: mean_curve(r, sweep, **{key: name}) for name in order}
        grid = sorted(set.intersection(*(set(c) for c in curves.values())) - {0.0})
        ours = "; ".join(f"ε={e:g}: " + ", ".join(f"{n} {fmt3(curves[n][e])}" for n in order) for e in grid)
        holds = bool(grid) and all(
            all(curves[a][e] <= curves[b][e] for a, b in zip(order, order[1:], strict=False)) for e in grid
        )
        return ours, holds

    return check


# Both arms at or above this adversarial error: saturated, where "smaller" cannot show.
BOTH_SATURATED = 0.98


def strictly_lower(sweep: str, better: str, worse: str) -> Check:
    """``better``'s adversarial error strictly below ``worse``'s at every ε > 0 where either is below
    saturation; the ε where both saturate are reported, and at least one ε must be judged."""

    def check(r: Results) -> tuple[str, bool]:
        a, b = mean_curve(r, sweep, method=better), mean_curve(r, sweep, method=worse)
        grid = sorted(set(a) & set(b) - {0.0})
        judged = [e for e in grid if min(a[e], b[e]) < BOTH_SATURATED]
        saturated = [e for e in grid if e not in judged]
        ours = "; ".join(f"ε={e:.4g}: {better} {fmt3(a[e])}, {worse} {fmt3(b[e])}" for e in grid)
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


def mean_curve(r: Results, sweep: str, **where) -> dict[float, float]:
    """The mean adversarial error at each ε of the grid, over the matching runs."""
    curves = [eps_curve(v) for v in r.select(sweep, **where)]
    grid = sorted(set.intersection(*(set(c) for c in curves)))
    return {e: sum(c[e] for c in curves) / len(curves) for e in grid}


def single_run(folder: Path) -> Path:
    runs = sorted(p.parent for p in folder.glob("*/results.json"))
    if not runs:
        raise NoRuns(f"no finished run under {folder}")
    return runs[0]


SEEDS3, SEEDS5 = "seed=0,1,2", "seed=0,1,2,3,4"


# Per-epoch curves are read smoothed over this many epochs: the minimum or maximum of 100 noisy
# points sits beyond the curve by itself (on 1000 test points one epoch's PGD-10 error has a standard
# error of ~1.6 points; a model at chance on 200 training points moves by several points an epoch),
# which would show a gap or a fit where there is none.
SMOOTH = 5


def smoothed(values: list[float], k: int = SMOOTH) -> list[float]:
    """The means of every ``k`` consecutive values (a window ending at each epoch from the k-th);
    fewer than ``k`` values give their one mean."""
    if len(values) < k:
        return [sum(values) / len(values)] if values else []
    return [sum(values[i - k : i]) / k for i in range(k, len(values) + 1)]
