"""What a run on planar data adds to its results: training error per group size (App. C.1: "AT
gives up the small circles" as a number) and, in the plane, its decision regions (Figures 7–9a)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benign_lightning.attacks import eval_mode
from benign_lightning.data.planar import PlanarDataModule
from benign_lightning.evaluate import model_device
from benign_lightning.figures import plot_decision_regions


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
    with torch.no_grad(), eval_mode(model):
        pred = model(torch.from_numpy(grid).to(model_device(model))).argmax(1).cpu().numpy()
    return xs, ys, pred.reshape(n, n)


def planar_results(model: nn.Module, datamodule: PlanarDataModule, train_pred: np.ndarray,
                   run_dir: Path, title: str, eps: float | None) -> dict[str, Any]:  # fmt: skip
    """``train_err_by_group_size`` for ``results.json``; in the plane, ``figures/decision_regions.png``."""
    given = datamodule.eval_train.y.cpu().numpy()  # coarse under fine2coarse, as the predictions
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
