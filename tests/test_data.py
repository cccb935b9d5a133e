"""Datamodules and the tensor loader: IDX files, subsets, batches, DDP sharding (real gloo)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import make_idx_mnist

from benign_lightning.data import MNISTDataModule, ToyMNISTDataModule
from benign_lightning.data.tensor_loader import EpochPermutation, TensorLoader
from benign_lightning.data.toy_mnist import load_toy_digits
from benign_lightning.plumbing.errors import ConfigError


def test_mnist_reads_gzipped_idx_files(tmp_path):
    make_idx_mnist(tmp_path, n_train=40, n_test=20, gz=True)
    dm = MNISTDataModule(data_dir=str(tmp_path), eta=0.25, data_seed=1)
    dm.check_available()
    dm.prepare_data()  # unpacks the .gz files, as torchvision needs
    dm.setup()
    assert dm.train.x.shape == (40, 1, 28, 28) and dm.train.x.dtype == torch.uint8
    assert dm.test.x.shape == (20, 1, 28, 28)
    assert torch.equal(dm.test.y, torch.arange(20) % 10)
    assert len(dm.noise.indices) == 10


def test_missing_mnist_names_the_expected_path(tmp_path):
    dm = MNISTDataModule(data_dir=str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match=str(tmp_path / "empty" / "MNIST" / "raw")):
        dm.check_available()


def test_data_dir_defaults_to_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("BENIGN_DATA_DIR", str(tmp_path))
    assert MNISTDataModule().data_dir == tmp_path.resolve()


def test_subsets_are_drawn_from_data_seed(tmp_path):
    make_idx_mnist(tmp_path, n_train=100, n_test=50, gz=False)
    a = MNISTDataModule(data_dir=str(tmp_path), train_subset=30, test_subset=10, data_seed=4)
    b = MNISTDataModule(data_dir=str(tmp_path), train_subset=30, test_subset=10, data_seed=4)
    a.setup()
    b.setup()
    assert len(a.train) == 30 and len(a.test) == 10
    np.testing.assert_array_equal(a.train_index, b.train_index)


def test_toy_mnist_is_unclipped_by_default_and_balanced():
    dm = ToyMNISTDataModule(eta=0.0, sigma2=0.5, data_seed=0)
    dm.setup()
    assert dm.train.x.shape == (4000, 1, 28, 28) and len(dm.test) == 1000
    assert dm.input_range is None and dm.train.x.min() < -1 and dm.train.x.max() > 2  # N(0, 0.5) noise
    # The noise is exactly the sample minus its digit: std sqrt(0.5) around the class's image.
    digits = torch.from_numpy(load_toy_digits().astype("float32") / 255)
    residual = dm.train.x[:, 0] - digits[dm.train.y]
    assert abs(float(residual.std()) - 0.5**0.5) < 0.01 and abs(float(residual.mean())) < 0.01
    assert 0.45 < dm.train.y.float().mean() < 0.55


def test_toy_mnist_clipped_is_in_pixel_space():
    dm = ToyMNISTDataModule(eta=0.0, sigma2=0.5, data_seed=0, clip=True)
    dm.setup()
    assert dm.input_range == (0.0, 1.0) and dm.train.x.min() >= 0 and dm.train.x.max() <= 1


def test_loader_covers_each_point_once_per_epoch_in_a_new_order():
    x, y = torch.arange(103).float().view(-1, 1), torch.arange(103)
    loader = TensorLoader(x, y, batch_size=10, sampler=EpochPermutation(103, shuffle=True, seed=0))
    assert len(loader) == 11
    orders = []
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)
        idx = torch.cat([i for _, _, i in loader])
        assert sorted(idx.tolist()) == list(range(103))
        orders.append(idx)
    assert not torch.equal(orders[0], orders[1])
    loader.sampler.set_epoch(0)
    assert torch.equal(torch.cat([i for _, _, i in loader]), orders[0])  # a resumed epoch repeats


def _rank_indices(rank: int, world: int, init_file: str, out) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    sampler = EpochPermutation(10, shuffle=True, seed=3)
    out[rank] = sampler.indices().tolist(), len(sampler)
    dist.destroy_process_group()


def test_ranks_get_disjoint_shards_of_equal_size(tmp_path):
    manager = mp.Manager()
    out = manager.dict()
    mp.spawn(_rank_indices, args=(2, str(tmp_path / "init"), out), nprocs=2, join=True)
    (a, len_a), (b, len_b) = out[0], out[1]
    assert len(a) == len(b) == len_a == len_b == 5
    assert sorted(a + b) == list(range(10))


def _hold_download_lock(data_dir: str, log: str, seconds: float) -> None:
    import time

    from benign_lightning.data.download import download_lock

    with download_lock(data_dir):
        with open(log, "a") as f:
            f.write(f"start {time.monotonic()}\n")
        time.sleep(seconds)
        with open(log, "a") as f:
            f.write(f"end {time.monotonic()}\n")


def test_download_lock_serialises_concurrent_jobs(tmp_path):
    """Two processes preparing the same data folder take turns (no interleaved downloads)."""
    ctx = mp.get_context("spawn")
    log = tmp_path / "log.txt"
    procs = [ctx.Process(target=_hold_download_lock, args=(str(tmp_path), str(log), 0.5)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    events = [line.split()[0] for line in log.read_text().splitlines()]
    assert events == ["start", "end", "start", "end"]
