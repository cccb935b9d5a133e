"""Figures 9b and 9c are one entry on two datasets: Fine2Coarse against coarse training (App. C.3)."""

from __future__ import annotations

from benign_lightning.reproduce.entry import Claim, Entry, Sweep
from benign_lightning.reproduce.figures.shared import (
    BOTH_SATURATED,
    CIFAR_SMOKE,
    SMOKE_ATTACK,
    strictly_lower,
)


def fine2coarse_entry(name: str, figure: str, experiment: str, needs: str, paper_cost: str,
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
                strictly_lower("arms", "fine2coarse", "coarse"),
            ),
        ),
        cost={"smoke": "≈ 30 s, CPU", "cpu": "hours on a CPU (a GPU job)", "paper": paper_cost},
        needs=needs,
        x="eps",
    )
