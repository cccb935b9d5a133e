"""Figure 5: the points robust training gets wrong are the memorised, highly influential ones (§3.2,
Figure 5 (Zhang & Feldman 2020's estimates)): its sweeps per scale and its claims, each with the
check that judges it."""

from __future__ import annotations

from pathlib import Path

from benign_lightning.reproduce.entry import Claim, Entry, Sweep
from benign_lightning.reproduce.figures.shared import SMOKE_ATTACK, fmt3, single_run
from benign_lightning.reproduce.results import NoRuns, Results, TooFew


def estimate_influence(folders: dict[str, Path]) -> None:
    """Zhang & Feldman's estimates of the ensemble job against the robust and the natural run."""
    from benign_lightning.analysis import influence

    jobs = sorted(p.parent for p in folders["mem"].glob("*/member_0"))
    if jobs:
        influence.write(jobs[0], single_run(folders["robust"]), single_run(folders["natural"]))


def _influence_summary(r: Results) -> dict:
    missing = "the ensemble job or the influence step did not finish"
    summary = r.job_json("mem", "memorization_summary.json", missing)
    if summary.get("mem_mean_robust_unfit") is None:
        raise NoRuns("the robust run leaves no training point unfit")
    return summary


def _fig5a(r: Results) -> tuple[str, bool]:
    s = _influence_summary(r)
    unfit, all_points = s["mem_mean_robust_unfit"], s["mem_mean"]
    ours = (
        f"mean self-influence of the {s['n_robust_unfit']} points the robust run leaves unfit (natural "
        f"fits): {fmt3(unfit)}; of all points: {fmt3(all_points)} ({s['models']} models)"
    )
    return ours, unfit >= 2 * all_points


def _fig5b(r: Results) -> tuple[str, bool]:
    s = _influence_summary(r)
    wrong, all_points, n = s["max_infl_mean_robust_test_wrong"], s["max_infl_mean"], s["n_robust_test_wrong"]
    if wrong is None or n < FIG5B_LEAST_POINTS:
        raise TooFew(f"{n} test points misclassified by the robust run (the least: {FIG5B_LEAST_POINTS})")
    ours = (
        f"mean largest influence on the {n} test points the robust run misclassifies: {fmt3(wrong)}; on all "
        f"test points: {fmt3(all_points)}"
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
    post=estimate_influence,
)
