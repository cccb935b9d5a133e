"""Figure 9b: training on fine labels (Fine2Coarse) is more robust than on coarse ones (App. C.3,
Figure 9b): its sweeps per scale and its claims, each with the check that judges it."""

from __future__ import annotations

from benign_lightning.reproduce.figures.fine2coarse import fine2coarse_entry

FIG9B = fine2coarse_entry(
    "fig9b",
    "9b",
    "fine2coarse_cifar100",
    "CIFAR-100 (BENIGN_DATA_DIR/cifar-100-python)",
    "2 jobs, ResNet-50: ≈ 10 GPU-hours",
    "App. C.3, Figure 9b: “Figure 9b shows that for all perturbation budgets, Fine2Coarse has smaller "
    "adversarial risk than the naturally trained model.”",
)
