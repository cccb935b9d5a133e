"""Per-epoch curves (robust overfitting, Rice et al. 2020; AT on noisy labels, Dong et al. 2022):
what a robustness researcher watches during training, not only at its end.

After every epoch: the training error on the given (noisy) labels and on the clean labels, the
fraction of the corrupted points fit (the noise fitted) and the natural error on a fixed test subset
of ``n_test`` points; every ``every_n_epochs`` epochs (and at the last) the adversarial error on the
same subset under a cheap attack (PGD-``attack.steps`` at the run's ε and norm, one random start).
The cost is bounded by the subset and the cadence, and measured: ``curves.seconds`` and its share
of the fit's time go into ``results.json`` (the training predictions' pass included: the curves ask
for it before the memorization tracker, which then reads it for free).

The metrics are torchmetrics: each DDP rank updates them with its own shard of the rows, and
``compute`` sums their states over the ranks, so every rank logs the same number without a gather.
The training predictions are the epoch's shared pass (``TrainPredictions``, also the memorization
tracker's), read on this rank's shard only.
"""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
import torch
from torchmetrics.aggregation import MeanMetric

from benign_lightning.attacks.spec import AttackSpec
from benign_lightning.callbacks.fit import TrainPredictions
from benign_lightning.callbacks.logging import log_global
from benign_lightning.data.base import Split
from benign_lightning.evaluation.evaluate import adversarially_correct, exact_fp32, predict, rank_seed
from benign_lightning.plumbing.distributed import my_shard

# What results.json keeps, by the name logged each epoch (curves/<name>).
NATURAL = ("train_err", "train_err_clean", "noise_fit", "test_err")
ADVERSARIAL = "test_adv_err"


def fixed_test_rows(n_test_total: int, n_test: int, seed: int = 0) -> torch.Tensor:
    """The fixed test rows the curves read: ``n_test`` of them drawn once from ``seed`` (sorted), the
    same at every epoch, on every rank and in every run of a sweep."""
    if n_test >= n_test_total:
        return torch.arange(n_test_total)
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n_test_total, generator=generator)[:n_test].sort().values


class EpochCurves(pl.Callback):
    """Logs ``curves/<name>`` each epoch and keeps each curve for ``results.json`` (``<name>_by_epoch``,
    with ``curve_epochs`` and ``curve_adv_epochs``, epochs counted from 1)."""

    def __init__(self, predictions: TrainPredictions, *, eps: float, attack: AttackSpec, n_test: int,
                 every_n_epochs: int, seed: int) -> None:  # fmt: skip
        self.predictions = predictions
        self.eps, self.attack, self.n_test = float(eps), attack, int(n_test)
        self.every_n_epochs, self.seed = int(every_n_epochs), int(seed)
        self.curves: dict[str, list] = {name: [] for name in (*NATURAL, ADVERSARIAL)}
        self.epochs: list[int] = []
        self.adv_epochs: list[int] = []
        self.seconds = 0.0
        self.rows: torch.Tensor | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # On the module's device: torchmetrics reduces its states there (NCCL takes CUDA tensors only).
        self.metrics = {name: MeanMetric(nan_strategy="ignore").to(pl_module.device) for name in self.curves}
        self.rows = fixed_test_rows(len(trainer.datamodule.test), self.n_test)

    @exact_fp32()
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        start = time.perf_counter()
        epoch = trainer.current_epoch + 1
        data = trainer.datamodule
        train, clean = data.eval_train, data.eval_clean_train_labels
        mine = my_shard(len(train))
        pred = self.predictions(trainer, pl_module)[mine]
        given, true = train.y[mine], clean[mine].to(train.y.device)
        self._update("train_err", pred != given)
        self._update("train_err_clean", pred != true)
        self._update("noise_fit", (pred == given)[given != true])

        shard = self._test_shard(trainer)
        natural_correct = predict(pl_module.model, shard, self.attack.batch_size) == shard.y
        self._update("test_err", ~natural_correct)
        values = {name: self._compute(name) for name in NATURAL}
        # The last epoch always has its adversarial point: the end of max_epochs, or a stop that
        # a callback before this one asked for (stop_at_zero_train_err). EarlyStopping decides
        # after this hook: on_train_end then measures the point it left out.
        stops = trainer.should_stop and epoch >= (trainer.min_epochs or 0)  # (min_epochs overrides a stop)
        if epoch % self.every_n_epochs == 0 or epoch == trainer.max_epochs or stops:
            values[ADVERSARIAL] = self._adversarial(pl_module, shard, natural_correct, epoch)
        self.epochs.append(epoch)
        for name, value in values.items():
            self.curves[name].append(value)
            if value is not None:  # (no corrupted point at η = 0: no noise to fit)
                log_global(pl_module, f"curves/{name}", value, prog_bar=name == ADVERSARIAL)
        self.seconds += time.perf_counter() - start

    @exact_fp32()
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        last = self.epochs[-1] if self.epochs else None
        if last is None or last in self.adv_epochs:
            return
        start = time.perf_counter()  # stopped between adversarial points: kept, not logged
        shard = self._test_shard(trainer)
        natural_correct = predict(pl_module.model, shard, self.attack.batch_size) == shard.y
        self.curves[ADVERSARIAL].append(self._adversarial(pl_module, shard, natural_correct, last))
        self.seconds += time.perf_counter() - start

    def _test_shard(self, trainer: pl.Trainer) -> Split:
        """This rank's share of the fixed test rows."""
        test = trainer.datamodule.test
        test = test[self.rows.to(test.y.device)] if len(self.rows) < len(test) else test
        return test[my_shard(len(test))]

    def _adversarial(
        self, pl_module: pl.LightningModule, shard: Split, natural_correct: torch.Tensor, epoch: int
    ) -> float | None:
        """The adversarial error on the fixed test rows (every rank's shard), recorded at ``epoch``."""
        correct = adversarially_correct(
            pl_module.model, shard, eps=self.eps, attack=self.attack, natural_correct=natural_correct,
            seed=rank_seed(self.seed + epoch),
        )  # fmt: skip
        self._update(ADVERSARIAL, ~correct)
        self.adv_epochs.append(epoch)
        return self._compute(ADVERSARIAL)

    def _update(self, name: str, wrong: torch.Tensor) -> None:
        self.metrics[name].update(wrong.float().to(self.metrics[name].device))

    def _compute(self, name: str) -> float | None:
        """The metric over every rank's rows (torchmetrics syncs the states), then reset."""
        value = float(self.metrics[name].compute())
        self.metrics[name].reset()
        return None if value != value else round(value, 6)  # nan: no row (no corrupted point)

    def results(self, fit_seconds: float | None) -> dict[str, Any]:
        out: dict[str, Any] = {f"{name}_by_epoch": list(values) for name, values in self.curves.items()}
        out["curve_epochs"], out["curve_adv_epochs"] = list(self.epochs), list(self.adv_epochs)
        out["curves"] = {
            "n_test": len(self.rows) if self.rows is not None else self.n_test,
            "every_n_epochs": self.every_n_epochs,
            "attack": f"PGD-{self.attack.steps} ({self.attack.norm}, ε = {self.eps:g}, "
                      f"{self.attack.restarts} random start{'s' if self.attack.restarts > 1 else ''})",
            "seconds": round(self.seconds, 3),
            "share_of_fit": round(self.seconds / fit_seconds, 4) if fit_seconds else None,
        }  # fmt: skip
        return out

    # Kept in checkpoints: a resumed run has the whole curve.
    # (The seconds are this process's, set against this process's fit: a resumed run's share.)
    def state_dict(self) -> dict[str, Any]:
        return {"curves": self.curves, "epochs": self.epochs, "adv_epochs": self.adv_epochs}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.curves = {k: list(v) for k, v in state_dict["curves"].items()}
        self.epochs, self.adv_epochs = list(state_dict["epochs"]), list(state_dict["adv_epochs"])
