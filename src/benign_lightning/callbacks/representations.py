"""Figure 3 (§3.1): the penultimate-layer representations of correctly labelled, mislabelled and
adversarial examples during training, projected on their first two principal components.

At the end of each epoch in ``epochs`` (counted from 1) and when training ends, the callback takes
up to ``n_points`` correctly labelled and up to ``n_points`` mislabelled training points, and the
adversarial examples (the evaluation attack at ``eps``, ``steps`` steps) of ``n_points`` test points,
and records the input of the model's last linear layer for each. The points are drawn once (from
``seed``), so every snapshot shows the same ones. ``representations.npz`` keeps the activations, so a
notebook can redraw the figure; the PCA of each snapshot is fitted on its training points.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from benign_lightning.attacks import eval_mode
from benign_lightning.attacks.spec import AttackSpec
from benign_lightning.evaluation.evaluate import exact_fp32
from benign_lightning.plumbing.errors import ConfigError
from benign_lightning.plumbing.io import atomic_savez

KINDS = ("clean", "mislabelled", "adversarial")


def last_linear(model: nn.Module) -> nn.Linear:
    """The classifier layer whose input is the penultimate representation."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ConfigError("representations: the model has no linear layer whose input is the representation")
    return linears[-1]


@torch.no_grad()
def penultimate(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    """The inputs of the model's last linear layer for the rows of ``x`` (eval mode)."""
    captured: list[torch.Tensor] = []
    hook = last_linear(model).register_forward_hook(lambda _m, inputs, _out: captured.append(inputs[0]))
    try:
        with eval_mode(model):
            for start in range(0, len(x), batch_size):
                model(x[start : start + batch_size])
    finally:
        hook.remove()
    return torch.cat(captured).flatten(1).float().cpu().numpy()


def pca_2d(fit_on: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    """Project each array on the first two principal components of ``fit_on`` (numpy's SVD:
    scikit-learn is not a dependency, and two components of a few thousand rows need nothing more)."""
    mean = fit_on.mean(0)
    _, _, vt = np.linalg.svd(fit_on - mean, full_matrices=False)
    return [(a - mean) @ vt[:2].T for a in arrays]


class RepresentationSnapshots(pl.Callback):
    """Penultimate activations at chosen epochs; ``representations.npz`` and the figure at the end."""

    def __init__(self, *, epochs: list[int], n_points: int, attack: AttackSpec, eps: float, seed: int,
                 path: str | Path, figure: str | Path | None) -> None:  # fmt: skip
        if any(int(e) < 1 for e in epochs) or int(n_points) < 1:
            raise ConfigError(f"representations: epochs (>= 1) {list(epochs)}, n_points (>= 1) {n_points}")
        self.epochs = sorted({int(e) for e in epochs})
        self.n_points, self.attack, self.eps, self.seed = int(n_points), attack, float(eps), int(seed)
        self.path, self.figure = Path(path), Path(figure) if figure else None
        self.snapshots: dict[str, np.ndarray] = {}  # "epoch_<e>_<kind>" -> activations
        self._chosen: dict[str, Any] | None = None  # the points, drawn at the first snapshot

    def state_dict(self) -> dict[str, Any]:
        return {"snapshots": {k: torch.from_numpy(v) for k, v in self.snapshots.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.snapshots = {k: v.numpy() for k, v in state.get("snapshots", {}).items()}

    def _points(self, trainer: pl.Trainer) -> dict[str, Any]:
        if self._chosen is None:
            self._chosen = self._draw(trainer.datamodule)
        return self._chosen

    def _draw(self, dm) -> dict[str, Any]:
        rng = np.random.default_rng(self.seed)
        corrupted = dm.noise.corrupted[~dm.heldout_mask]
        pick = {
            kind: np.sort(rng.permutation(np.flatnonzero(rows))[: self.n_points])
            for kind, rows in (("clean", ~corrupted), ("mislabelled", corrupted))
        }
        test = np.sort(rng.permutation(len(dm.test))[: self.n_points])
        clean = dm.clean_train_labels.cpu().numpy()
        return {"dm": dm, "train": pick, "test": test, "clean": clean}

    @exact_fp32()
    def _capture(self, trainer: pl.Trainer, pl_module: pl.LightningModule, tag: str) -> None:
        points = self._points(trainer)
        dm, model = points["dm"], pl_module.model
        device = pl_module.device
        for kind, rows in points["train"].items():
            # Split.inputs maps uint8 images (MNIST, CIFAR) to [0, 1], the model's input space.
            index = torch.from_numpy(rows).to(dm.train.y.device)
            self.snapshots[f"{tag}_{kind}"] = penultimate(model, dm.train.inputs(index).to(device))
            self.snapshots[f"{tag}_{kind}_label"] = points["clean"][rows]
        index = torch.from_numpy(points["test"]).to(dm.test.y.device)
        x, y = dm.test.inputs(index).to(device), dm.test.y[index].to(device)
        with torch.enable_grad():
            x_adv = self.attack(model, x, y, eps=self.eps, seed=self.seed)
        self.snapshots[f"{tag}_adversarial"] = penultimate(model, x_adv)
        self.snapshots[f"{tag}_adversarial_label"] = y.cpu().numpy()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch in self.epochs and trainer.is_global_zero:
            self._capture(trainer, pl_module, f"epoch_{epoch}")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        self._capture(trainer, pl_module, f"epoch_{trainer.current_epoch}")  # the final weights
        atomic_savez(self.path, **self.snapshots)
        if self.figure is not None:
            from benign_lightning.analysis.figures import plot_representations

            plot_representations(self.tags(), self.projections(), self.figure)

    def tags(self) -> list[str]:
        """The snapshots taken, in epoch order (``epoch_<e>``)."""
        found = {k.rsplit("_", 1)[0] for k in self.snapshots if k.endswith("_clean")}
        return sorted(found, key=lambda t: int(t.split("_")[1]))

    def projections(self) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
        """Per snapshot and kind: the 2-D PCA coordinates and the correct labels."""
        out = {}
        for tag in self.tags():
            acts = [self.snapshots[f"{tag}_{kind}"] for kind in KINDS]
            fitted = pca_2d(np.concatenate(acts[:2]), *acts)
            labels = [self.snapshots[f"{tag}_{kind}_label"] for kind in KINDS]
            out[tag] = {kind: (xy, y) for kind, xy, y in zip(KINDS, fitted, labels, strict=True)}
        return out

    def nearer_other_class(self, tag: str) -> dict[str, float]:
        """Figure 3 as numbers: per kind, the fraction of points whose representation is nearer the
        centroid of the clean points of the *other* class than of their correct class (mislabelled
        points: fitted to their noisy label; adversarial examples: carried across); and how many
        adversarial examples lie beside a mislabelled point of their own correct label."""
        clean, clean_y = self.snapshots[f"{tag}_clean"], self.snapshots[f"{tag}_clean_label"]
        classes = np.unique(clean_y)
        centroids = np.stack([clean[clean_y == c].mean(0) for c in classes])
        out = {}
        for kind in KINDS[1:]:
            acts, y = self.snapshots[f"{tag}_{kind}"], self.snapshots[f"{tag}_{kind}_label"]
            nearest = classes[((acts[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)]
            out[kind] = float((nearest != y).mean()) if len(y) else float("nan")
        beside, chance = self._adversarial_beside_mislabelled(tag)
        out["adversarial_nearest_is_mislabelled"] = beside
        out["adversarial_nearest_chance"] = chance
        return out

    def _adversarial_beside_mislabelled(self, tag: str) -> tuple[float, float]:
        """Observation (i) of §3.1: the fraction of adversarial examples whose nearest training point
        (of those snapshotted, in the penultimate space) is a mislabelled one of the same correct
        label, i.e. one the model has fit to the other class; and the same fraction by chance (a
        training point drawn at random from the snapshot's pool: for equally many clean and
        mislabelled points of two classes, about 1/4)."""
        snap = self.snapshots
        clean, mislabelled = snap[f"{tag}_clean"], snap[f"{tag}_mislabelled"]
        train = np.concatenate([clean, mislabelled])
        is_mislabelled = np.repeat([False, True], [len(clean), len(mislabelled)])
        labels = np.concatenate([snap[f"{tag}_clean_label"], snap[f"{tag}_mislabelled_label"]])
        adv, adv_y = snap[f"{tag}_adversarial"], snap[f"{tag}_adversarial_label"]
        if not len(adv):
            return float("nan"), float("nan")
        # Chance: per adversarial example, the share of the pool that is mislabelled of its label.
        share = {y: float((is_mislabelled & (labels == y)).mean()) for y in np.unique(adv_y)}
        chance = float(np.mean([share[y] for y in adv_y]))
        # Exact nearest neighbours by brute force (600 × 300 distances). Not scipy's KDTree: with the
        # run's flush-denormal mode on (run/job.py) it segfaults on some final-epoch activations
        # (measured on repr_pca's epoch-20 snapshot, scipy 1.17).
        distances = torch.cdist(torch.from_numpy(adv).double(), torch.from_numpy(train).double())
        nearest = distances.argmin(1).numpy()
        return float((is_mislabelled[nearest] & (labels[nearest] == adv_y)).mean()), chance

    def summary(self) -> dict[str, Any]:
        return {
            "file": self.path.name,
            "figure": f"figures/{self.figure.name}" if self.figure else None,
            "nearer_other_class": {tag: self.nearer_other_class(tag) for tag in self.tags()},
        }
