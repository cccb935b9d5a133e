"""The base of the generated datasets (the planar ones, Wang et al.'s signal plus noise): train and
test drawn from independent streams of ``data_seed``, a fixed layout from ``layout_seed``, labels
flipped by the shared noise module (``flip``: an exact η fraction, as in Theorem 1), inputs without a
box (``input_range`` None: attacks do not clamp)."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import torch

from benign_lightning.data.base import LabelNoiseDataModule
from benign_lightning.plumbing.errors import ConfigError


class SyntheticDataModule(LabelNoiseDataModule):
    """Float tensors of ``in_shape`` samples drawn by ``sample``; binary labels by default."""

    num_classes = 2
    input_range = None

    def __init__(
        self,
        *,
        n_train: int = 1000,
        n_test: int = 1000,
        layout_seed: int = 0,
        noise_mode: str = "flip",
        **kwargs,
    ) -> None:
        super().__init__(noise_mode=noise_mode, **kwargs)
        for key, value in (("n_train", n_train), ("n_test", n_test)):
            if int(value) < 1:
                raise ConfigError(f"data.{key} must be a positive integer, got {value}")
        self.n_train, self.n_test, self.layout_seed = int(n_train), int(n_test), int(layout_seed)
        self.train_groups_all: np.ndarray | None = None

    @abstractmethod
    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``n`` samples: inputs (float32, ``[n, *in_shape]``), clean labels and groups (or None)."""

    def load_arrays(self):
        # Train and test from independent streams of data_seed, as toy-MNIST's.
        x_train, y_train, self.train_groups_all = self.sample(self.n_train, self._rng(1))
        x_test, y_test, _ = self.sample(self.n_test, self._rng(2))
        return (
            torch.from_numpy(x_train),
            torch.from_numpy(y_train),
            torch.from_numpy(x_test),
            torch.from_numpy(y_test),
        )

    def _rng(self, stream: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.data_seed, stream]))
