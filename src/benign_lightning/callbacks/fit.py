"""Which training points the model fits, once per epoch, and the §3.1 stop at zero training error."""

from __future__ import annotations

import pytorch_lightning as pl
import torch

from benign_lightning.callbacks.logging import log_global
from benign_lightning.evaluation.evaluate import predict_logits


class TrainPredictions:
    """The logits and predicted class of every training example after the current epoch (eval mode).

    Computed once per epoch however many callbacks ask for them, sharded over the DDP ranks; every
    rank gets every prediction, so every rank reaches the same decisions.
    """

    def __init__(self, batch_size: int = 1000) -> None:
        self.batch_size = batch_size
        self._step: int | None = None
        self._logits: torch.Tensor | None = None
        self._pred: torch.Tensor | None = None

    def logits(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> torch.Tensor:
        if self._step != trainer.global_step or self._logits is None:
            train = trainer.datamodule.eval_train
            self._logits = predict_logits(pl_module.model, train, self.batch_size)
            self._pred = self._logits.argmax(1).to(train.y.dtype)
            self._step = trainer.global_step
        return self._logits

    def __call__(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> torch.Tensor:
        self.logits(trainer, pl_module)
        return self._pred


class StopAtZeroTrainError(pl.Callback):
    """§3.1: train "until the training error becomes zero" (capped by ``trainer.max_epochs``).

    After each epoch it logs ``train/full_err``, the error on the whole noisy training set in eval
    mode, and stops when no point is misclassified.
    """

    def __init__(self, predictions: TrainPredictions) -> None:
        self.predictions = predictions
        self.zero_error_epoch: int | None = None  # the last epoch, if it ended with zero error

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        train = trainer.datamodule.eval_train
        n_wrong = int((self.predictions(trainer, pl_module) != train.y).sum())
        log_global(pl_module, "train/full_err", n_wrong / len(train), on_epoch=True, prog_bar=True)
        # Lightning keeps training past a stop request until trainer.min_epochs is reached.
        self.zero_error_epoch = trainer.current_epoch if n_wrong == 0 else None
        trainer.should_stop = trainer.should_stop or n_wrong == 0


class StartEpoch(pl.Callback):
    """The epoch the fit started at: 0, or the epoch a resumed run went on from (results.json's
    ``start_epoch``, which tells whether a requeued job picked up its checkpoint)."""

    def __init__(self) -> None:
        self.epoch: int | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epoch = int(trainer.current_epoch)
