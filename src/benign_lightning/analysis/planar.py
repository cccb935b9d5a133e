"""What a run on planar data adds to its results: training error per group size (App. C.1: "AT
gives up the small circles" as a number) and, in the plane, its decision regions (Figures 7–9a)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.spatial import KDTree
from torch import nn

from benign_lightning.analysis.figures import plot_decision_regions
from benign_lightning.attacks import eval_mode
from benign_lightning.data.planar import PlanarDataModule
from benign_lightning.evaluation.evaluate import model_device


def errors_by_group_size(train_pred: np.ndarray, given: np.ndarray, groups: np.ndarray,
                         sizes: np.ndarray) -> dict[str, dict[str, float]]:  # fmt: skip
    """Per group size: the training error on the given labels, the number of groups, of groups lost
    (most of their points misclassified) and of points."""
    wrong = train_pred != given
    out = {}
    for size in np.unique(sizes):
        members = np.flatnonzero(sizes == size)
        rows = np.isin(groups, members)
        # A group is lost when most of its training points are misclassified (AT "gives up" a disc).
        lost = sum(bool(wrong[groups == g].mean() > 0.5) for g in members if (groups == g).any())
        out[f"{size:g}"] = {
            "train_err": float(wrong[rows].mean()) if rows.any() else float("nan"),
            "groups": len(members),
            "groups_lost": int(lost),
            "points": int(rows.sum()),
        }
    return out


Predict = Callable[[np.ndarray], np.ndarray]


def net_predict(model: nn.Module) -> Predict:
    """A network's labels for rows of float inputs (numpy in, numpy out, eval mode)."""

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad(), eval_mode(model):
            return model(torch.from_numpy(x).to(model_device(model))).argmax(1).cpu().numpy()

    return predict


def decision_grid(predict: Predict, x: np.ndarray, n: int = 300, pad: float = 0.5):
    """The prediction on an ``n`` × ``n`` grid over the data's bounding box (plus ``pad``)."""
    lo, hi = x.min(0) - pad, x.max(0) + pad
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2).astype(np.float32)
    return xs, ys, predict(grid).reshape(n, n)


def grid_margins(xs: np.ndarray, ys: np.ndarray, pred: np.ndarray, x: np.ndarray, labels: np.ndarray,
                 norm: str) -> np.ndarray:  # fmt: skip
    """Per point: the ``norm`` distance to the nearest grid point predicted ≠ its label (App. C.2's
    margins, for any classifier; to within the grid's spacing)."""
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    flat = pred.ravel()
    out = np.full(len(x), np.inf)
    for label in np.unique(labels):
        other = flat != label
        if other.any():
            rows = labels == label
            out[rows] = KDTree(grid[other]).query(x[rows], p=np.inf if norm == "linf" else 2)[0]
    return out


def planar_results(predict: Predict, datamodule: PlanarDataModule, train_pred: np.ndarray, run_dir: Path,
                   title: str, eps: float | None, norm: str) -> dict[str, Any]:  # fmt: skip
    """``train_err_by_group_size`` for ``results.json``; in the plane, the margins of the fitted
    training points and ``figures/decision_regions.png``."""
    given = datamodule.eval_train.y.cpu().numpy()  # coarse under fine2coarse, as the predictions
    out: dict[str, Any] = {
        "train_err_by_group_size": errors_by_group_size(
            train_pred, given, datamodule.train_groups, datamodule.group_sizes()
        )
    }
    if datamodule.in_shape == (2,):
        x = datamodule.train.x.cpu().numpy()
        corrupted = datamodule.noise.corrupted[~datamodule.heldout_mask]
        xs, ys, pred = decision_grid(predict, x)
        fitted = train_pred == given
        margins = grid_margins(xs, ys, pred, x[fitted], given[fitted], norm)
        out["margin"] = {
            "norm": norm,
            "min": float(margins.min()) if len(margins) else None,
            "median": float(np.median(margins)) if len(margins) else None,
            "grid_spacing": float(max(xs[1] - xs[0], ys[1] - ys[0])),
            "of": "the fitted training points",
        }
        path = plot_decision_regions(xs, ys, pred, x, given, corrupted,
                                     run_dir / "figures" / "decision_regions.png", title, eps)  # fmt: skip
        out["decision_regions"] = str(path.relative_to(run_dir))
    return out
