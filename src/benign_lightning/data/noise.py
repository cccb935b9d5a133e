"""Label noise: one pure function of (labels, eta, mode, seed), used by every datamodule.

The noisy labels depend on nothing but the arguments: not on the global RNG, the DDP rank or the
dataloader worker. So every rank, worker and rerun with the same ``data_seed`` sees the same mask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benign_lightning.plumbing.errors import ConfigError
from benign_lightning.plumbing.io import atomic_savez

# "human": real annotators' labels read from a file (CIFAR-10N/100N, data/human_noise.py).
NOISE_MODES = ("uniform", "symmetric", "pair", "flip", "human")

# Asymmetric pair flips (Patrini et al. 2017), as listed in PAPER.md. Keys are class indices.
MNIST_PAIRS: dict[int, int] = {7: 1, 2: 7, 5: 6, 6: 5, 3: 8}
# CIFAR-10: truck→automobile, bird→airplane, deer→horse, cat↔dog.
CIFAR10_PAIRS: dict[int, int] = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}


def check_noise_args(eta: float, mode: str) -> None:
    """Raise a ConfigError naming the bad value and what is allowed."""
    if mode not in NOISE_MODES:
        raise ConfigError(f"data.noise_mode={mode!r} is unknown; choose one of {', '.join(NOISE_MODES)}")
    try:
        eta = float(eta)
    except (TypeError, ValueError):
        raise ConfigError(f"eta must be a number in [0, 1], got {eta!r}") from None
    if not 0.0 <= eta <= 1.0:
        raise ConfigError(f"eta must be in [0, 1], got {eta}")


@dataclass(frozen=True)
class NoisyLabels:
    """The result of corrupting a label vector.

    ``indices`` are the points chosen for corruption (exactly round(eta * n) of them for
    ``uniform``/``symmetric``/``flip``). In ``uniform`` mode a chosen point may keep its label, so
    ``corrupted`` (noisy != clean) can be a strict subset of ``indices``.
    """

    clean_labels: np.ndarray
    noisy_labels: np.ndarray
    indices: np.ndarray

    @property
    def corrupted(self) -> np.ndarray:
        return self.noisy_labels != self.clean_labels

    def save(self, path: str | Path, **extra: np.ndarray) -> None:
        """Write ``noise.npz`` atomically (``indices``, ``clean_labels``, ``noisy_labels``, extras)."""
        atomic_savez(
            path,
            indices=self.indices,
            clean_labels=self.clean_labels,
            noisy_labels=self.noisy_labels,
            **extra,
        )


def _round_half_up(x: float) -> int:
    return int(np.floor(x + 0.5))


def corrupt_labels(
    labels: np.ndarray,
    *,
    eta: float,
    mode: str,
    num_classes: int,
    seed: int,
    pairs: Mapping[int, int] | None = None,
) -> NoisyLabels:
    """Corrupt a copy of ``labels``; the input is never modified.

    - ``uniform``: §3.1. round(eta·n) points, each given a uniformly random class (may equal the
      true one, so the effective flip rate is eta·(K−1)/K).
    - ``symmetric``: as uniform, but always a different class.
    - ``pair``: round(eta·m) of the m points whose class has a pair, each sent to its pair class.
    - ``flip``: binary labels; round(eta·n) points get 1 − y (toy-MNIST).
    """
    check_noise_args(eta, mode)
    if mode == "human":
        raise ConfigError("data.noise_mode='human' reads its labels from data.noise_file, not from a seed")
    clean = np.asarray(labels, dtype=np.int64).copy()
    n = len(clean)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x6E6F697365]))  # "noise" stream
    noisy = clean.copy()

    if mode == "pair":
        if not pairs:
            raise ConfigError("data.noise_mode='pair' needs a pair map; this dataset has none")
        eligible = np.flatnonzero(np.isin(clean, list(pairs)))
        k = _round_half_up(eta * len(eligible))
        indices = np.sort(rng.choice(eligible, size=k, replace=False))
        noisy[indices] = [pairs[int(c)] for c in clean[indices]]
        return NoisyLabels(clean, noisy, indices)

    k = _round_half_up(eta * n)
    indices = np.sort(rng.choice(n, size=k, replace=False))
    if mode == "uniform":
        noisy[indices] = rng.integers(0, num_classes, size=k)
    elif mode == "symmetric":
        if num_classes < 2:
            raise ConfigError("data.noise_mode='symmetric' needs at least 2 classes")
        noisy[indices] = (clean[indices] + rng.integers(1, num_classes, size=k)) % num_classes
    else:  # flip
        if num_classes != 2 and k > 0:
            raise ConfigError(f"data.noise_mode='flip' is for binary labels, this dataset has {num_classes}")
        noisy[indices] = 1 - clean[indices]
    return NoisyLabels(clean, noisy, indices)
