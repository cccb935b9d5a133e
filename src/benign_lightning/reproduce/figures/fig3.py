"""Figure 3: adversarial examples sit beside the memorised mislabelled points (§3.1, Figure 3): its
sweeps per scale and its claims, each with the check that judges it."""

from __future__ import annotations

from benign_lightning.reproduce.entry import Claim, Entry, Sweep
from benign_lightning.reproduce.figures.shared import SEEDS3, fmt3
from benign_lightning.reproduce.results import NoRuns, Results


def _repr_adversarial(r: Results) -> tuple[str, bool]:
    snapshots = (r.select("repr")[0].get("representations") or {}).get("nearer_other_class") or {}
    if not snapshots:
        raise NoRuns("no representation snapshots in the run")
    last = max(snapshots, key=lambda tag: int(tag.rsplit("_", 1)[1]))  # keys may come unordered
    beside, chance = snapshots[last]["adversarial_nearest_is_mislabelled"], snapshots[last][
        "adversarial_nearest_chance"]  # fmt: skip
    return (
        f"{last}: {fmt3(beside)} of adversarial examples lie beside a mislabelled point of their class "
        f"(chance for the pool drawn: {fmt3(chance)})",
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
