"""Figure 1: training images whose label robust training does not fit and natural training does (§1,
§3.2, Figure 1): its sweeps per scale and its claims, each with the check that judges it."""

from __future__ import annotations

from benign_lightning.rare_examples import FIGURE1_SHOWN
from benign_lightning.reproduce.entry import Claim
from benign_lightning.reproduce.figures.rare import RARE_REGIME, RARE_SCALES, on_figure5s_runs, rare_summary
from benign_lightning.reproduce.results import Results, TooFew

FIG1_LEAST_SHOWN = 8


def _fig1(r: Results) -> tuple[str, bool]:
    s = rare_summary(r, "figure1")
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


FIG1 = on_figure5s_runs(
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
