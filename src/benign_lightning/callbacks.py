"""Lightning callbacks specific to the paper's protocol."""

from __future__ import annotations

import pytorch_lightning as pl

from benign_lightning.evaluate import predict


class StopAtZeroTrainError(pl.Callback):
    """§3.1: train "until the training error becomes zero" (capped by ``trainer.max_epochs``).

    After each epoch it predicts the whole noisy training set in eval mode, logs ``train/full_err``
    and stops when no point is misclassified. Every DDP rank holds the whole (small) training set
    and the same weights, so every rank reaches the same decision without communication.
    """

    def __init__(self, batch_size: int = 1000) -> None:
        self.batch_size = batch_size
        self.zero_error_epoch: int | None = None  # the last epoch, if it ended with zero error

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        train = trainer.datamodule.train
        n_wrong = int((predict(pl_module.model, train, self.batch_size) != train.y).sum())
        pl_module.log("train/full_err", n_wrong / len(train), on_epoch=True, prog_bar=True)
        # Lightning keeps training past a stop request until trainer.min_epochs is reached.
        self.zero_error_epoch = trainer.current_epoch if n_wrong == 0 else None
        trainer.should_stop = trainer.should_stop or n_wrong == 0
