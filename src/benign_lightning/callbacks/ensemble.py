"""An ensemble's per-member protocol, once per epoch: which training points each member fits
(its memorization record) and when each member's training ends.

A single run ends at the first epoch with zero training error once ``trainer.min_epochs`` are done
(``StopAtZeroTrainError``: Lightning keeps a stop request until then); member k ends at that same
epoch and is frozen (``EnsembleMixin.stop_members``), and the job ends when every member has.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch

from benign_lightning.callbacks.logging import log_global
from benign_lightning.callbacks.memorization import FitRecord, memorization_enabled
from benign_lightning.evaluation.evaluate import predict


class EnsembleFit(pl.Callback):
    """Per member: the fit record (``memorization``, as ``MemorizationTracker``) and the §3.1 stop
    (``stop_at_zero_train_err``)."""

    def __init__(self, *, stop_at_zero_train_err: bool, memorization: bool | str, every_n_epochs: int,
                 batch_size: int) -> None:  # fmt: skip
        self.stop_at_zero = bool(stop_at_zero_train_err)
        self.memorization, self.every_n_epochs = memorization, int(every_n_epochs)
        self.batch_size = int(batch_size)
        self.records: list[FitRecord] | None = None
        self.zero_seen: list[bool] = []  # a zero-error epoch so far (the stop waits for min_epochs)
        self.stop_epoch: list[int | None] = []
        self.zero_at_stop: list[bool] = []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        data = trainer.datamodule
        if not self.stop_epoch:  # not restored from a checkpoint
            n = pl_module.size
            self.zero_seen, self.stop_epoch, self.zero_at_stop = [False] * n, [None] * n, [False] * n
            if memorization_enabled(self.memorization, len(data.members[0].train)):
                self.records = [
                    FitRecord((m.eval_clean_train_labels != m.eval_train.y).cpu()) for m in data.members
                ]

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1  # epochs trained so far
        last = epoch >= trainer.max_epochs
        recording = self.records is not None and (epoch % self.every_n_epochs == 0 or last)
        if not (self.stop_at_zero or recording or last):
            return
        data = trainer.datamodule
        fit = (predict(pl_module.model, data.stacked_train, self.batch_size) == data.stacked_train.y).cpu()
        member = data.stacked_train.member.cpu()
        min_epochs = trainer.min_epochs or 0
        ending, errors = [], []
        for k in torch.nonzero(pl_module.training_members).flatten().tolist():
            fit_k = fit[member == k]
            zero = bool(fit_k.all())
            errors.append(1 - float(fit_k.double().mean()))
            self.zero_seen[k] = self.zero_seen[k] or zero
            ends = last or (self.stop_at_zero and self.zero_seen[k] and epoch >= min_epochs)
            if self.records is not None and (recording or ends):
                self.records[k].record(fit_k, epoch)
            if ends:
                self.stop_epoch[k], self.zero_at_stop[k] = epoch, zero
                ending.append(k)
        log_global(pl_module, "train/full_err", sum(errors) / len(errors), on_epoch=True, prog_bar=True)
        if ending:
            pl_module.stop_members(ending)
        trainer.should_stop = trainer.should_stop or bool(pl_module.stopped.all())

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Interrupted, or at a limit the epoch hook did not see (fast_dev_run, limit_train_batches).
        for k, epoch in enumerate(self.stop_epoch):
            if epoch is None:
                self.stop_epoch[k] = int(trainer.current_epoch)

    def member_results(self, k: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "epochs": self.stop_epoch[k],
            "stopped_at_zero_train_err": self.zero_at_stop[k],
        }
        if self.records is not None:
            out.update(self.records[k].summary())
        return out

    def state_dict(self) -> dict[str, Any]:
        records = [r.state for r in self.records] if self.records is not None else None
        return {"records": records, "zero_seen": self.zero_seen, "stop_epoch": self.stop_epoch,
                "zero_at_stop": self.zero_at_stop}  # fmt: skip

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        records = state_dict["records"]
        self.records = [FitRecord(state=s) for s in records] if records is not None else None
        self.zero_seen = list(state_dict["zero_seen"])
        self.stop_epoch = list(state_dict["stop_epoch"])
        self.zero_at_stop = list(state_dict["zero_at_stop"])
