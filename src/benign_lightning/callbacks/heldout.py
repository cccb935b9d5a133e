"""Adversarial error on a held-out split, measured after every epoch, for early stopping.

Early stopping is a defence that works by not fitting the noise (§3.2 cites it): the held-out
split's labels carry the same noise as the training set, as a practitioner's would, and the run
stops when its adversarial error has not improved for ``patience`` epochs (Lightning's
``EarlyStopping`` on ``val/adv_err``).
"""

from __future__ import annotations

import pytorch_lightning as pl

from benign_lightning.attacks.spec import AttackSpec
from benign_lightning.callbacks.logging import log_global
from benign_lightning.evaluation.evaluate import adversarially_correct_all, error_rate, predict_all

MONITOR = "val/adv_err"


class HeldOutAdversarialError(pl.Callback):
    """Logs ``val/err`` and ``val/adv_err`` (the attack at ``eps``) of ``datamodule.heldout`` each
    epoch."""

    def __init__(self, *, eps: float, attack: AttackSpec, seed: int) -> None:
        self.eps, self.attack, self.seed = eps, attack, seed

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        split = trainer.datamodule.eval_heldout
        natural_correct = predict_all(pl_module.model, split, self.attack.batch_size) == split.y
        adv_correct = adversarially_correct_all(
            pl_module.model, split, natural_correct=natural_correct, eps=self.eps, attack=self.attack,
            seed=self.seed,
        )  # fmt: skip
        log_global(pl_module, "val/err", error_rate(natural_correct))
        log_global(pl_module, MONITOR, error_rate(adv_correct), prog_bar=True)
