"""Logging per-epoch values that every DDP rank already holds in full."""

from __future__ import annotations

import re
import warnings

import pytorch_lightning as pl

# The keys logged with ``log_global``: the callbacks compute them on predictions gathered from all
# ranks (evaluate.predict_all, adversarially_correct_all), so every rank logs the same number.
GLOBAL_KEYS = (
    "train/full_err", "val/err", "val/adv_err", "memorization/clean_fit", "memorization/noisy_fit",
    # callbacks/curves.py: torchmetrics has summed the ranks' states, so every rank holds the value.
    "curves/train_err", "curves/train_err_clean", "curves/noise_fit", "curves/test_err",
    "curves/test_adv_err",
)  # fmt: skip

# Lightning recommends sync_dist=True for epoch-level values in DDP; these need no reduction.
warnings.filterwarnings(
    "ignore",
    message=r"It is recommended to use `self\.log\('(" + "|".join(map(re.escape, GLOBAL_KEYS)) + r")'",
)


def log_global(pl_module: pl.LightningModule, name: str, value: float, **kwargs) -> None:
    """``pl_module.log`` without ``sync_dist``, for a value identical on every rank.

    Not only a saved all-reduce: a value logged with ``sync_dist=True`` in a callback's
    ``on_train_epoch_end`` deadlocks DDP when the progress bar is on. The progress bar's own
    ``on_train_epoch_end`` comes after the callback's, and on rank 0 alone (the other ranks' bars
    are disabled) it computes the value, so rank 0 waits in the reduction while the other ranks
    go on to the next collective (seen with trainer=ddp_cpu and under SLURM).
    """
    if name not in GLOBAL_KEYS:
        raise ValueError(f"log_global: {name!r} is not one of {GLOBAL_KEYS}")
    pl_module.log(name, value, sync_dist=False, **kwargs)
