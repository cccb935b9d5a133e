"""§3.2: robust training leaves the mislabelled points unfit (MNIST, 15% random labels) (§3.2): its
sweeps per scale and its claims, each with the check that judges it."""

from __future__ import annotations

from benign_lightning.reproduce.entry import Check, Claim, Entry, Sweep
from benign_lightning.reproduce.figures.shared import MNIST_SMOKE, SEEDS3, fmt3
from benign_lightning.reproduce.results import Results


def _natural_fits_all(r: Results) -> tuple[str, bool]:
    err = r.mean("methods", "train_err", method="natural")
    return f"natural training error on the noisy labels {fmt3(err)}", err <= 0.01


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
            f"{n} training errors, {hits} mislabelled (precision {fmt3(precision or 0)}); the noise fitted: "
            f"{fmt3(noisy_fit or 0)} of {noisy} changed labels; clean points left unfit: {clean_unfit} of "
            f"{n_clean} ({fmt3(clean_unfit / max(n_clean, 1))}); final robust training loss "
            f"{fmt3(run.get('final_train_loss') or float('nan'))}"
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
