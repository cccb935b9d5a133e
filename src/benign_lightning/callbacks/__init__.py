"""Lightning callbacks specific to the paper's protocol."""

from benign_lightning.callbacks.fit import StartEpoch, StopAtZeroTrainError, TrainPredictions
from benign_lightning.callbacks.heldout import MONITOR as HELDOUT_MONITOR
from benign_lightning.callbacks.heldout import HeldOutAdversarialError
from benign_lightning.callbacks.memorization import (
    MemorizationTracker,
    check_memorization_setting,
    memorization_enabled,
)
from benign_lightning.callbacks.ranks import SameBuffersOnAllRanks, SameNoiseOnAllRanks
from benign_lightning.callbacks.slurm import SubmititSignals

__all__ = [
    "HELDOUT_MONITOR",
    "HeldOutAdversarialError",
    "MemorizationTracker",
    "SameBuffersOnAllRanks",
    "SameNoiseOnAllRanks",
    "StartEpoch",
    "StopAtZeroTrainError",
    "SubmititSignals",
    "TrainPredictions",
    "check_memorization_setting",
    "memorization_enabled",
]
