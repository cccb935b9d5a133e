"""Figure 4: a misclassified test image and the rare training image it takes after (§3.2, App. D.2,
Figure 4): its sweeps per scale and its claims, each with the check that judges it."""

from __future__ import annotations

from benign_lightning.reproduce.entry import Claim
from benign_lightning.reproduce.figures.rare import RARE_REGIME, RARE_SCALES, on_figure5s_runs, rare_summary
from benign_lightning.reproduce.figures.shared import fmt3
from benign_lightning.reproduce.results import Results, TooFew

FIG4_LEAST_PAIRS = 10


def _fig4_pairs(r: Results) -> tuple[str, bool]:
    from scipy.stats import binomtest

    s = rare_summary(r, "figure4")
    n = s["n_pairs"]
    if n < FIG4_LEAST_PAIRS:
        raise TooFew(f"{n} pairs (the least judged: {FIG4_LEAST_PAIRS})")
    k, chance = s["same_class_count"], s["same_class_chance"]
    p = binomtest(k, n, chance, alternative="greater").pvalue
    ours = f"{k} of {n} pairs share their class ({fmt3(k / n)}; chance {fmt3(chance)}, binomial p {p:.2g})"
    return ours, p < 0.05


def _fig4_influence(r: Results) -> tuple[str, bool]:
    s = rare_summary(r, "figure4")
    share, base = s["influence_share_from_unfit"], s["unfit_fraction"]
    if share is None:
        raise TooFew("no test point that the robust run misclassifies and natural training does not")
    ours = (f"on the {s['n_test_wrong']} test points the robust run misclassifies (and natural training "
            "does not), "
            f"{fmt3(share)} of their top-10 influence comes from training points the robust run leaves unfit "
            f"({fmt3(base)} of the training set)")  # fmt: skip
    # "mostly" (≥ 0.5) and "disproportionately" (≥ 5× the unfit points' share of the training set).
    return ours, share >= 0.5 and share >= 5 * base


FIG4 = on_figure5s_runs(
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
