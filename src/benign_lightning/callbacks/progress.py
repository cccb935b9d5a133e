"""The console during training: Lightning's rich bar on a terminal, one line per epoch elsewhere.

A tqdm bar that refreshes many times a second is what SLURM's, CI's and piped logs were full of; a
log file wants one line per epoch. ``progress``: ``auto`` (bar on a terminal, else epoch lines),
``bar``, ``epoch`` or ``none``.
"""

from __future__ import annotations

import sys
import time

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ProgressBar, RichProgressBar
from pytorch_lightning.utilities import rank_zero_only

PROGRESS_SETTINGS = ("auto", "bar", "epoch", "none")
# The per-epoch values an epoch line shows, when they were logged.
EPOCH_KEYS = ("train/loss", "train/err", "train/full_err", "val/adv_err", "memorization/noisy_fit")


class EpochLines(ProgressBar):
    """One line per finished epoch: ``epoch 3/100  train/loss 0.1234  train/err 0.0450  2.1 s``.

    The line is printed when the next epoch starts (or training ends): the method logs its epoch
    values after the callbacks' own end-of-epoch hooks, so only then are they all in."""

    def __init__(self) -> None:
        super().__init__()
        self._enabled = True
        self._epoch: int | None = None
        self._start = 0.0

    def disable(self) -> None:  # Lightning disables the bar on ranks other than 0
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def _line(self, trainer: pl.Trainer) -> None:
        if self._epoch is None or not self._enabled:
            return
        metrics = trainer.callback_metrics
        values = "  ".join(f"{k} {float(metrics[k]):.4f}" for k in EPOCH_KEYS if k in metrics)
        total = trainer.max_epochs if trainer.max_epochs not in (None, -1) else "?"
        _print(f"epoch {self._epoch + 1}/{total}  {values}  {time.perf_counter() - self._start:.1f} s")
        self._epoch = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._line(trainer)
        self._epoch, self._start = trainer.current_epoch, time.perf_counter()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._line(trainer)


@rank_zero_only
def _print(line: str) -> None:
    print(line, flush=True)


def progress_callback(setting: str, enabled: bool) -> ProgressBar | None:
    """The progress display for ``progress=setting`` (None: no display, and Lightning's bar off)."""
    if not enabled or setting == "none":
        return None
    if setting == "auto":
        setting = "bar" if sys.stdout.isatty() else "epoch"
    return RichProgressBar(leave=True) if setting == "bar" else EpochLines()
