"""toy-MNIST (§3.1, Figure 2a): two fixed MNIST digits plus i.i.d. Gaussian pixel noise."""

from __future__ import annotations

from importlib import resources

import numpy as np
import torch

from benign_lightning.data.base import LabelNoiseDataModule
from benign_lightning.plumbing.errors import ConfigError


def load_toy_digits() -> np.ndarray:
    """The two shipped digits, uint8 [2, 28, 28]: a 0 and a 1 (the first of each in MNIST train)."""
    with resources.files("benign_lightning.data").joinpath("assets/toy_mnist_digits.npz").open("rb") as f:
        return np.load(f)["images"]


def sample_toy_mnist(n: int, sigma2: float, seed_seq: np.random.SeedSequence, clip: bool):
    """n samples: a class uniformly at random, its digit in [0, 1], plus N(0, sigma2) per pixel."""
    rng = np.random.default_rng(seed_seq)
    digits = load_toy_digits().astype(np.float32) / 255.0
    y = rng.integers(0, 2, size=n)
    x = digits[y] + np.float32(np.sqrt(sigma2)) * rng.standard_normal((n, 28, 28), dtype=np.float32)
    if clip:
        # (ours) keep inputs in pixel space [0, 1], so eps and the attack's clamp mean what they mean
        # on every other dataset.
        np.clip(x, 0.0, 1.0, out=x)
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


class ToyMNISTDataModule(LabelNoiseDataModule):
    """Binary toy-MNIST; the default noise is ``flip`` (an eta fraction of labels flipped)."""

    name = "toy_mnist"
    num_classes = 2
    in_shape = (1, 28, 28)

    def __init__(
        self,
        *,
        sigma2: float = 0.5,
        n_train: int = 4000,
        n_test: int = 1000,
        clip: bool = False,
        noise_mode: str = "flip",
        **kwargs,
    ) -> None:
        super().__init__(noise_mode=noise_mode, **kwargs)
        if not float(sigma2) >= 0:
            raise ConfigError(f"data.sigma2 must be >= 0, got {sigma2}")
        for key, value in (("n_train", n_train), ("n_test", n_test)):
            if int(value) < 1:
                raise ConfigError(f"data.{key} must be a positive integer, got {value}")
        self.sigma2, self.n_train, self.n_test, self.clip = float(sigma2), int(n_train), int(n_test), clip
        # Unclipped samples lie anywhere in R^784: no box for the attack to clamp to (attack.clamp=auto).
        self.input_range = (0.0, 1.0) if clip else None

    def load_arrays(self):
        # Train and test come from independent streams of data_seed: a fresh test set (§3.1).
        x_train, y_train = sample_toy_mnist(
            self.n_train, self.sigma2, np.random.SeedSequence([self.data_seed, 1]), self.clip
        )
        x_test, y_test = sample_toy_mnist(
            self.n_test, self.sigma2, np.random.SeedSequence([self.data_seed, 2]), self.clip
        )
        return x_train, y_train, x_test, y_test
