"""Shared fixtures: real MNIST (unpacked from ../shared), IDX writers and a CLI runner."""

from __future__ import annotations

import atexit
import contextlib
import gzip
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# The md5 cache of dataset files (data/files.py) in a folder of this test session, for every
# process the tests start too, not in the user's ~/.cache.
if "BENIGN_CACHE_DIR" not in os.environ:
    _SESSION_CACHE = tempfile.mkdtemp(prefix="benign_cache_")
    os.environ["BENIGN_CACHE_DIR"] = _SESSION_CACHE
    # Removed when the session ends: a test machine should not collect one folder per run.
    atexit.register(shutil.rmtree, _SESSION_CACHE, ignore_errors=True)
SHARED_MNIST = Path(os.environ.get("BENIGN_SHARED_MNIST", REPO.parent / "shared" / "data" / "MNIST" / "raw"))
MNIST_SUBSET = Path(__file__).parent / "fixtures" / "mnist_subset.npz"
# Fast, quiet CLI runs: no progress bar, few attack steps.
QUIET = ["trainer.enable_progress_bar=false"]
# Runs that a test compares bit for bit (a rerun, a resumed run, an ensemble member against its
# single run) run on the CPU: CUDA kernels need not repeat bit for bit (atomics, autotuned
# algorithms), and the suite on a GPU machine must test the product, not the device.
ON_CPU = ["trainer.accelerator=cpu"]


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False) -> Path:
    """Write ``array`` (uint8) in the IDX format MNIST uses (magic 0x0800 + ndim, big-endian dims)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def make_idx_mnist(
    root: Path, n_train: int = 40, n_test: int = 20, *, gz: bool = True, seed: int = 0
) -> Path:
    """A tiny MNIST-format tree at ``root/MNIST/raw`` with random images and labels 0..9."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), gz=gz)
        write_idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10, gz=gz)
    return root


def _write_pickle(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def make_cifar(root: Path, kind: str = "cifar10", n_per_file: int = 20, seed: int = 0) -> Path:
    """Tiny CIFAR-10/100 trees in the original python-pickle format (bytes keys, N×3072 uint8
    rows in channel-major order), at ``root/cifar-10-batches-py`` or ``root/cifar-100-python``.
    CIFAR-100 rows get fine label i % 100 and its real superclass as coarse label."""
    from benign_lightning.data.cifar import CIFAR100_COARSE_OF_FINE

    rng = np.random.default_rng(seed)

    def batch(n: int, offset: int) -> dict:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        fine = (np.arange(n) + offset) % (10 if kind == "cifar10" else 100)
        if kind == "cifar10":
            return {b"batch_label": b"tiny", b"labels": fine.tolist(), b"data": data}
        coarse = [CIFAR100_COARSE_OF_FINE[f] for f in fine]
        return {b"fine_labels": fine.tolist(), b"coarse_labels": coarse, b"data": data}

    if kind == "cifar10":
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(1, 6):
            _write_pickle(folder / f"data_batch_{i}", batch(n_per_file, i))
        _write_pickle(folder / "test_batch", batch(n_per_file, 0))
        _write_pickle(folder / "batches.meta", {b"label_names": [b"c%d" % i for i in range(10)]})
    else:
        folder = root / "cifar-100-python"
        folder.mkdir(parents=True, exist_ok=True)
        _write_pickle(folder / "train", batch(5 * n_per_file, 1))
        _write_pickle(folder / "test", batch(n_per_file, 0))
        _write_pickle(folder / "meta", {b"fine_label_names": [], b"coarse_label_names": []})
    return root


def make_imagenet_tree(root: Path, wnids, n_train: int = 2, n_val: int = 1, seed: int = 0) -> Path:
    """An ImageNet-style tree: root/{train,val}/<wnid>/*.JPEG, small random JPEGs of mixed sizes."""
    import torch
    from torchvision.io import write_jpeg

    g = torch.Generator().manual_seed(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for wnid in wnids:
            folder = root / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                h, w = 24 + 8 * (i % 3), 32 + 4 * (i % 2)
                image = torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g)
                write_jpeg(image, str(folder / f"{wnid}_{i}.JPEG"))
    return root


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory) -> Path:
    """Real MNIST as unpacked IDX files in a temporary data dir: the whole dataset from
    ``../shared`` when it is there, else the committed real subset (the first 3000 training and
    1000 test images, ``fixtures/mnist_subset.npz``), so these tests run on any machine."""
    root = tmp_path_factory.mktemp("mnist_data")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    if SHARED_MNIST.exists():
        for gz_file in SHARED_MNIST.glob("*.gz"):
            with gzip.open(gz_file) as src, open(raw / gz_file.stem, "wb") as dst:
                shutil.copyfileobj(src, dst)
        return root
    with np.load(MNIST_SUBSET) as subset:
        for split, prefix in (("train", "train"), ("t10k", "test")):
            write_idx(raw / f"{split}-images-idx3-ubyte", subset[f"{prefix}_images"])
            write_idx(raw / f"{split}-labels-idx1-ubyte", subset[f"{prefix}_labels"])
    return root


def run_cli(*overrides: str, cwd: Path, env: dict[str, str] | None = None, timeout: int = 600):
    """Run ``python -m benign_lightning`` in ``cwd``; return the CompletedProcess."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "benign_lightning", *overrides],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_cli_parallel(runs: dict[str, list[str]], *, cwd: Path, timeout: int = 600) -> dict[str, str]:
    """Several ``python -m benign_lightning`` runs at once, one torch thread each (this machine has
    2 cores; they are independent). Returns each run's stderr; fails on a non-zero exit status."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    stderr = {}
    with contextlib.ExitStack() as files:
        procs = {}
        for key, overrides in runs.items():
            log = files.enter_context(open(cwd / f"{key}.stderr", "w+"))  # a full pipe would block
            procs[key] = log, subprocess.Popen(
                [sys.executable, "-m", "benign_lightning", *overrides],
                cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True,
            )  # fmt: skip
        for key, (log, proc) in procs.items():
            proc.wait(timeout=timeout)
            log.seek(0)
            stderr[key] = log.read()
            assert proc.returncode == 0, (key, stderr[key][-3000:])
    return stderr


def run_main(*overrides: str, cwd: Path, monkeypatch, capfd) -> tuple[int, str, str]:
    """``python -m benign_lightning`` in this process: ``main()`` with ``sys.argv`` set, from ``cwd``.

    For tests of bad input, which stop before any compute: the same code path as the command
    without the ~10 s of interpreter and torch start-up. Returns (exit status, stdout, stderr).
    """
    from hydra.core.global_hydra import GlobalHydra

    from benign_lightning.__main__ import main

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["benign_lightning", *overrides])
    GlobalHydra.instance().clear()
    capfd.readouterr()
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        GlobalHydra.instance().clear()
    out, err = capfd.readouterr()
    return code, out, err


@pytest.fixture
def main_in_process(tmp_path, monkeypatch, capfd):
    """``run_main`` from ``tmp_path``: ``main_in_process(*overrides) -> (status, stdout, stderr)``."""

    def call(*overrides: str) -> tuple[int, str, str]:
        return run_main(*overrides, cwd=tmp_path, monkeypatch=monkeypatch, capfd=capfd)

    return call


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
