"""What a run on planar data adds to its results: training error per group size (App. C.1: "AT
gives up the small circles" as a number) and, in the plane, its decision regions (Figures 7–9a)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benign_lightning.data.planar import PlanarDataModule
from benign_lightning.evaluate import model_device
from benign_lightning.io import atomic_savefig


def errors_by_group_size(train_pred: np.ndarray, given: np.ndarray, groups: np.ndarray,
                         sizes: np.ndarray) -> dict[str, dict[str, float]]:  # fmt: skip
    """Per group size: the training error on the given labels, the number of groups and points."""
    wrong = train_pred != given
    out = {}
    for size in np.unique(sizes):
        rows = np.isin(groups, np.flatnonzero(sizes == size))
        out[f"{size:g}"] = {
            "train_err": float(wrong[rows].mean()) if rows.any() else float("nan"),
            "groups": int((sizes == size).sum()),
            "points": int(rows.sum()),
        }
    return out


def decision_grid(model: nn.Module, x: np.ndarray, n: int = 200, pad: float = 0.5):
    """The model's prediction on an ``n`` × ``n`` grid over the data's bounding box (plus ``pad``)."""
    lo, hi = x.min(0) - pad, x.max(0) + pad
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2).astype(np.float32)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(grid).to(model_device(model))).argmax(1).cpu().numpy()
    model.train(was_training)
    return xs, ys, pred.reshape(n, n)


def plot_decision_regions(
    xs, ys, pred, x, labels, corrupted, path: Path, title: str, eps: float | None
) -> Path:
    """Decision regions with the training points; mislabelled points marked ×; ``eps`` drawn as a
    square of side 2ε (the ℓ∞ ball) in a corner when the method trained against it."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.contourf(xs, ys, pred, levels=np.arange(pred.max() + 2) - 0.5, cmap="coolwarm", alpha=0.35)
    clean = ~corrupted
    ax.scatter(
        x[clean, 0], x[clean, 1], c=labels[clean], cmap="coolwarm", s=4, vmin=0, vmax=max(1, labels.max())
    )
    if corrupted.any():
        ax.scatter(x[corrupted, 0], x[corrupted, 1], c=labels[corrupted], cmap="coolwarm", marker="x", s=25,
                   vmin=0, vmax=max(1, labels.max()), label="mislabelled")  # fmt: skip
        ax.legend(loc="upper right", fontsize=7)
    if eps:
        ax.add_patch(Rectangle((xs[0] + 0.1, ys[0] + 0.1), 2 * eps, 2 * eps, fill=False, lw=1.5, label="ε"))
    ax.set(title=title, aspect="equal")
    return atomic_savefig(fig, path)


def planar_results(model: nn.Module, datamodule: PlanarDataModule, train_pred: np.ndarray,
                   run_dir: Path, title: str, eps: float | None) -> dict[str, Any]:  # fmt: skip
    """``train_err_by_group_size`` for ``results.json``; in the plane, ``figures/decision_regions.png``."""
    given = datamodule.train.y.cpu().numpy()
    if datamodule.fine2coarse:  # the training labels are fine; predictions are coarse
        given = np.asarray(datamodule.coarse_of_fine)[given]
    out: dict[str, Any] = {
        "train_err_by_group_size": errors_by_group_size(
            train_pred, given, datamodule.train_groups, datamodule.group_sizes()
        )
    }
    if datamodule.in_shape == (2,):
        x = datamodule.train.x.cpu().numpy()
        corrupted = datamodule.noise.corrupted[~datamodule.heldout_mask]
        xs, ys, pred = decision_grid(model, x)
        path = plot_decision_regions(xs, ys, pred, x, given, corrupted,
                                     run_dir / "figures" / "decision_regions.png", title, eps)  # fmt: skip
        out["decision_regions"] = str(path.relative_to(run_dir))
    return out
