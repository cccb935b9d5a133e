"""Per-example memorization tracking (§3.2, Figure 3): when is each training point fit?

After every epoch (or every ``memorization_every_n_epochs``, and at the end) the tracker compares
the model's prediction of each training point with its (possibly noisy) label and keeps, per point:

- ``stable_fit_epoch``: the first epoch from which the point is fit and stays fit to the end
  (epochs count from 1; -1 if it is not fit at the end);
- ``first_fit_epoch``: the first epoch at which it was fit at all (-1 if never);
- ``forgetting_events``: how often it went from fit to unfit (Toneva et al. 2019);
- ``fit_final``: whether it is fit at the end;

- ``loss_at_epoch`` (with ``small_loss_epoch``): each point's cross-entropy on its label at that
  epoch (``loss_epoch``), the small-loss score of noise detection (``detect.py``);

and per epoch the fraction of clean and of corrupted points fit (``clean_fit``, ``noisy_fit``),
which are also logged as ``memorization/clean_fit`` and ``memorization/noisy_fit``. "Mislabelled
points take longer to be fit" reads as ``stable_fit_epoch[corrupted]`` against the clean ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from benign_lightning.callbacks.fit import TrainPredictions
from benign_lightning.callbacks.logging import log_global
from benign_lightning.evaluation.evaluate import label_scores
from benign_lightning.plumbing.errors import ConfigError
from benign_lightning.plumbing.io import atomic_savez

# "Small" datasets get the tracker by default: one extra prediction pass over the training set per
# epoch is cheap next to an epoch of training there (MNIST and CIFAR have <= 60k training points).
AUTO_MAX_TRAIN = 60_000


def check_memorization_setting(setting: bool | str) -> None:
    """The ``memorization`` config key must be true, false or "auto"."""
    if setting != "auto" and not isinstance(setting, bool):
        raise ConfigError(f"memorization={setting!r} is not allowed; choose true, false or auto")


def memorization_enabled(setting: bool | str, n_train: int) -> bool:
    """Resolve the ``memorization`` config key: true, false, or "auto" (n_train <= 60000)."""
    check_memorization_setting(setting)
    return n_train <= AUTO_MAX_TRAIN if setting == "auto" else setting


class FitRecord:
    """One model's per-point record (the module docstring's arrays), updated once per recorded
    epoch. An ensemble keeps one per member (callbacks/ensemble.py)."""

    def __init__(
        self, corrupted: torch.Tensor | None = None, state: dict[str, torch.Tensor] | None = None
    ) -> None:
        if state is not None:
            self.state = dict(state)
            return
        n = len(corrupted)
        self.state = {
            "corrupted": corrupted,
            "stable_fit_epoch": torch.full((n,), -1, dtype=torch.int64),
            "first_fit_epoch": torch.full((n,), -1, dtype=torch.int64),
            "forgetting_events": torch.zeros(n, dtype=torch.int64),
            "fit": torch.zeros(n, dtype=torch.bool),
            "epochs": torch.zeros(0, dtype=torch.int64),
            "clean_fit": torch.zeros(0, dtype=torch.float64),
            "noisy_fit": torch.zeros(0, dtype=torch.float64),
        }

    @property
    def last_epoch(self) -> int:
        return int(self.state["epochs"][-1]) if len(self.state["epochs"]) else 0

    def record(self, fit: torch.Tensor, epoch: int) -> tuple[float, float]:
        """Add epoch ``epoch``'s fit mask; return the fraction of clean and of corrupted points fit."""
        s = self.state
        s["forgetting_events"] += s["fit"] & ~fit
        s["first_fit_epoch"][fit & (s["first_fit_epoch"] < 0)] = epoch
        s["stable_fit_epoch"][~fit] = -1
        s["stable_fit_epoch"][fit & (s["stable_fit_epoch"] < 0)] = epoch
        s["fit"] = fit
        corrupted = s["corrupted"]
        clean_fit, noisy_fit = _mean(fit[~corrupted]), _mean(fit[corrupted])
        s["epochs"] = torch.cat([s["epochs"], torch.tensor([epoch])])
        s["clean_fit"] = torch.cat([s["clean_fit"], torch.tensor([clean_fit], dtype=torch.float64)])
        s["noisy_fit"] = torch.cat([s["noisy_fit"], torch.tensor([noisy_fit], dtype=torch.float64)])
        return clean_fit, noisy_fit

    def save(self, path: str | Path, dataset_index: np.ndarray) -> None:
        """``memorization.npz`` (``dataset_index``: each training row's index in the dataset)."""
        arrays = {k: v.numpy() for k, v in self.state.items()}
        arrays["fit_final"] = arrays.pop("fit")
        arrays["dataset_index"] = dataset_index
        atomic_savez(path, **arrays)

    def summary(self) -> dict[str, Any]:
        """Median stable-fit epoch of the clean and of the corrupted points (fit at the end only)."""
        stable, corrupted = self.state["stable_fit_epoch"], self.state["corrupted"]
        return {
            "fit_epoch_median_clean": _median_fit_epoch(stable[~corrupted]),
            "fit_epoch_median_noisy": _median_fit_epoch(stable[corrupted]),
        }


def train_rows_index(datamodule: Any) -> np.ndarray:
    """The dataset index of each training row (the held-out rows left out)."""
    return datamodule.train_index[~datamodule.heldout_mask]


class MemorizationTracker(pl.Callback):
    """Records when each training point is fit; writes ``memorization.npz`` when training ends."""

    def __init__(
        self, predictions: TrainPredictions, path: str | Path, enabled: bool | str = True,
        every_n_epochs: int = 1, loss_epoch: int | None = None,
    ) -> None:  # fmt: skip
        self.predictions = predictions
        # The small-loss detector's epoch: the loss there is what a run stopped at that epoch
        # would leave (the same run up to it; a schedule set by trainer.max_epochs aside).
        self.loss_epoch = loss_epoch
        self.path = Path(path)
        self.enabled = enabled
        # Recording costs one prediction pass over the training set; every n epochs costs 1/n of it,
        # and the fit epochs are then known to within n epochs (the last epoch is always recorded).
        self.every_n_epochs = int(every_n_epochs)
        self.fit_record: FitRecord | None = None

    @property
    def active(self) -> bool:
        return self.fit_record is not None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        n = len(trainer.datamodule.train)
        if self.active or not memorization_enabled(self.enabled, n):  # restored, or off
            return
        clean = trainer.datamodule.eval_clean_train_labels.cpu()
        self.fit_record = FitRecord(clean != trainer.datamodule.eval_train.y.cpu())

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1  # epochs trained so far
        if self.active and (epoch % self.every_n_epochs == 0 or epoch == trainer.max_epochs):
            self._record(trainer, pl_module, epoch, log=True)
        if self.active and epoch == self.loss_epoch:
            self._record_loss(trainer, pl_module, epoch)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.active and self.fit_record.last_epoch < trainer.current_epoch:
            self._record(trainer, pl_module, trainer.current_epoch, log=False)  # stopped between records
        if self.active and self.loss_epoch is not None and "loss_at_epoch" not in self.fit_record.state:
            self._record_loss(trainer, pl_module, trainer.current_epoch)  # stopped before loss_epoch
        if trainer.is_global_zero and self.active:
            self.fit_record.save(self.path, train_rows_index(trainer.datamodule))

    def _record(self, trainer: pl.Trainer, pl_module: pl.LightningModule, epoch: int, log: bool) -> None:
        fit = (self.predictions(trainer, pl_module) == trainer.datamodule.eval_train.y).cpu()
        clean_fit, noisy_fit = self.fit_record.record(fit, epoch)
        if log:  # (Lightning takes logged values at epoch ends only)
            log_global(pl_module, "memorization/clean_fit", clean_fit)
            if self.fit_record.state["corrupted"].any():
                log_global(pl_module, "memorization/noisy_fit", noisy_fit)

    def _record_loss(self, trainer: pl.Trainer, pl_module: pl.LightningModule, epoch: int) -> None:
        logits = self.predictions.logits(trainer, pl_module)
        loss = label_scores(logits, trainer.datamodule.eval_train.y)["loss"]
        self.fit_record.state["loss_at_epoch"] = loss.float().cpu()
        self.fit_record.state["loss_epoch"] = torch.tensor(epoch)

    def summary(self) -> dict[str, Any]:
        if not self.active:
            return {}
        out = self.fit_record.summary()
        if "loss_epoch" in self.fit_record.state:
            out["small_loss_epoch"] = int(self.fit_record.state["loss_epoch"])
        return out

    # Saved in checkpoints, so a resumed run continues the record (tensors: weights_only loading).
    def state_dict(self) -> dict[str, Any]:
        return dict(self.fit_record.state) if self.active else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.fit_record = FitRecord(state=state_dict) if state_dict else None


def _mean(mask: torch.Tensor) -> float:
    return float(mask.double().mean()) if len(mask) else float("nan")


def _median_fit_epoch(stable: torch.Tensor) -> float | None:
    fitted = stable[stable > 0].double()
    return float(fitted.quantile(0.5)) if len(fitted) else None
