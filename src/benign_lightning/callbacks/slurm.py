"""Keep submitit's signal protocol inside ``trainer.fit`` (``hydra/launcher=slurm``)."""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytorch_lightning as pl


class SubmititSignals(pl.Callback):
    """Puts submitit's SIGTERM handler back once Lightning has installed its own.

    On preemption SLURM sends SIGTERM, then submitit's USR2: submitit ignores the SIGTERM, and on
    USR2 it pickles the job again and runs ``scontrol requeue``; the requeued job resumes from
    ``last.ckpt``. Lightning's SIGTERM handler would instead end the fit at the next batch, so the
    job would exit before USR2 came and never be requeued (seen on the local cluster: the job ended
    with no results and no requeue). With this callback a requeued job loses at most the epoch in
    progress: checkpoints are taken at epoch ends, where a resumed run equals an uninterrupted one.
    """

    def __init__(self) -> None:
        self._sigterm: Any = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # setup runs before Trainer._run registers Lightning's handlers.
        self._sigterm = signal.getsignal(signal.SIGTERM)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._sigterm)
