"""Label noise: exact counts, determinism, independence from rank/worker/global RNG, train-only."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from benign_lightning.data import MNISTDataModule, ToyMNISTDataModule, corrupt_labels
from benign_lightning.data.noise import MNIST_PAIRS
from benign_lightning.plumbing.errors import ConfigError

LABELS = np.random.default_rng(123).integers(0, 10, size=1001)


@pytest.mark.parametrize("eta", [0.0, 0.05, 0.1, 0.2, 0.5, 1.0])
@pytest.mark.parametrize("mode", ["uniform", "symmetric"])
def test_exact_count_and_only_chosen_points_change(eta, mode):
    noise = corrupt_labels(LABELS, eta=eta, mode=mode, num_classes=10, seed=0)
    assert len(noise.indices) == int(np.floor(eta * len(LABELS) + 0.5))
    assert len(np.unique(noise.indices)) == len(noise.indices)
    untouched = np.setdiff1d(np.arange(len(LABELS)), noise.indices)
    np.testing.assert_array_equal(noise.noisy_labels[untouched], LABELS[untouched])
    np.testing.assert_array_equal(noise.clean_labels, LABELS)
    assert noise.noisy_labels.min() >= 0 and noise.noisy_labels.max() < 10
    if mode == "symmetric":  # always a different class
        assert noise.corrupted.sum() == len(noise.indices)


def test_uniform_may_keep_the_true_class():
    # §3.1: the random class may equal the old one, so about 1/K of the chosen points keep it.
    noise = corrupt_labels(LABELS, eta=1.0, mode="uniform", num_classes=10, seed=0)
    kept = 1 - noise.corrupted.mean()
    assert 0.05 < kept < 0.16


def test_pair_and_flip_modes():
    pair = corrupt_labels(LABELS, eta=0.5, mode="pair", num_classes=10, seed=1, pairs=MNIST_PAIRS)
    for i in pair.indices:
        assert pair.noisy_labels[i] == MNIST_PAIRS[LABELS[i]]
    eligible = np.isin(LABELS, list(MNIST_PAIRS)).sum()
    assert len(pair.indices) == int(np.floor(0.5 * eligible + 0.5))

    binary = LABELS % 2
    flip = corrupt_labels(binary, eta=0.1, mode="flip", num_classes=2, seed=1)
    assert flip.corrupted.sum() == len(flip.indices) == 100
    np.testing.assert_array_equal(flip.noisy_labels[flip.indices], 1 - binary[flip.indices])


def test_deterministic_from_seed_and_independent_of_global_rng():
    torch.manual_seed(1)
    np.random.seed(1)
    a = corrupt_labels(LABELS, eta=0.2, mode="uniform", num_classes=10, seed=7)
    torch.manual_seed(999)
    np.random.seed(999)
    b = corrupt_labels(LABELS, eta=0.2, mode="uniform", num_classes=10, seed=7)
    c = corrupt_labels(LABELS, eta=0.2, mode="uniform", num_classes=10, seed=8)
    np.testing.assert_array_equal(a.noisy_labels, b.noisy_labels)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, c.indices)


_DIGEST_SCRIPT = """
import hashlib, json, sys, torch
from benign_lightning.data import ToyMNISTDataModule
torch.manual_seed(int(sys.argv[1]))  # a different global seed per process, as ranks/workers have
dm = ToyMNISTDataModule(eta=0.2, data_seed=5, n_train=500, n_test=50)
dm.setup()
print(json.dumps(hashlib.sha256(dm.train.y.numpy().tobytes() + dm.train.x.numpy().tobytes()).hexdigest()))
"""


def test_identical_across_ranks_and_worker_processes():
    """Separate processes with different RANK/LOCAL_RANK/worker env and global seeds agree."""
    digests = set()
    for rank in (0, 1):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2", "NODE_RANK": "0"}
        out = subprocess.run(
            [sys.executable, "-c", _DIGEST_SCRIPT, str(100 + rank)], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        digests.add(json.loads(out.stdout.strip().splitlines()[-1]))
    assert len(digests) == 1


def test_only_the_training_split_is_corrupted_toy():
    clean = ToyMNISTDataModule(eta=0.0, data_seed=3, n_train=600, n_test=200)
    noisy = ToyMNISTDataModule(eta=0.4, data_seed=3, n_train=600, n_test=200)
    clean.setup()
    noisy.setup()
    assert torch.equal(clean.test.x, noisy.test.x) and torch.equal(clean.test.y, noisy.test.y)
    assert torch.equal(clean.train.x, noisy.train.x)
    assert torch.equal(noisy.clean_train_labels, clean.train.y)
    assert int((noisy.train.y != clean.train.y).sum()) == 240


def test_only_the_training_split_is_corrupted_mnist(mnist_root):
    from torchvision.datasets import MNIST

    dm = MNISTDataModule(data_dir=str(mnist_root), eta=0.5, data_seed=0)
    dm.prepare_data()
    dm.setup()
    test_targets = MNIST(str(mnist_root), train=False).targets
    train_targets = MNIST(str(mnist_root), train=True).targets
    assert torch.equal(dm.test.y, test_targets)
    assert torch.equal(dm.clean_train_labels, train_targets)
    half = len(train_targets) // 2
    assert len(dm.noise.indices) == half
    assert dm.noise.corrupted.sum() > 0.85 * half  # 9/10 of the chosen ones change class


@pytest.mark.parametrize("eta", [1.5, -0.1, "abc"])
def test_bad_eta_is_a_clear_error(eta):
    with pytest.raises(ConfigError, match=r"eta must be .*\[0, 1\]"):
        ToyMNISTDataModule(eta=eta)


def test_unknown_mode_lists_the_known_ones():
    with pytest.raises(ConfigError, match="uniform, symmetric, pair, flip"):
        corrupt_labels(LABELS, eta=0.1, mode="bogus", num_classes=10, seed=0)


def test_noise_file_roundtrip(tmp_path):
    noise = corrupt_labels(LABELS, eta=0.3, mode="uniform", num_classes=10, seed=2)
    noise.save(tmp_path / "noise.npz")
    saved = np.load(tmp_path / "noise.npz")
    for key in ("indices", "clean_labels", "noisy_labels"):
        np.testing.assert_array_equal(saved[key], getattr(noise, key))
