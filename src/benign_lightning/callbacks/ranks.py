"""DDP guards: every rank trains on the same noisy labels, and evaluates the same weights."""

from __future__ import annotations

import pytorch_lightning as pl

from benign_lightning.plumbing.distributed import broadcast_buffers, gather_objects


class SameNoiseOnAllRanks(pl.Callback):
    """At the start of fit, gathers each rank's digest of its noisy labels and fails on a mismatch
    (the noise is a pure function of data_seed; a mismatch means ranks were given different
    configs). ``digests`` holds them in rank order, for the results."""

    def __init__(self) -> None:
        self.digests: list[str] = []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.digests = gather_objects(trainer.datamodule.noise_digest())
        if len(set(self.digests)) > 1:
            raise RuntimeError(
                f"DDP ranks hold different noisy labels (digests by rank: {self.digests}); "
                "every rank must be started with the same config and data_seed"
            )


class SameBuffersOnAllRanks(pl.Callback):
    """Before anything reads the model at an epoch's end, and at the end of fit, every rank takes
    rank 0's buffers (the BatchNorm running statistics its checkpoint saves), so that the curves,
    the held-out error and the final evaluation, each computed shard by shard, score one model: the
    one in ``checkpoints/``. (With SyncBatchNorm, trainer=ddp's default, they differ only by float
    rounding; with per-rank BatchNorm, by each rank's last batches.) Must come first."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        broadcast_buffers(pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        broadcast_buffers(pl_module)
