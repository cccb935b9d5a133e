"""A DDP guard: every rank must train on the same noisy labels."""

from __future__ import annotations

import pytorch_lightning as pl

from benign_lightning.plumbing.distributed import gather_objects


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
