"""CIFAR-10/100 from tiny files in the original pickle format: labels, coarse labels, missing data,
and the augmentation's two paths drawing from the same distribution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import QUIET, make_cifar, read_json, run_cli

from benign_lightning.data import CIFAR10DataModule, CIFAR100DataModule
from benign_lightning.data.augment import crop_flip_transform, random_crop_flip
from benign_lightning.data.cifar import CIFAR100_COARSE_OF_FINE, CIFAR100_FINE_NAMES
from benign_lightning.plumbing.errors import ConfigError

# The superclass of each fine label, as commonly published (e.g. in the dataset's own meta order).
KNOWN_COARSE_OF_FINE = [
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11, 6, 11, 5, 10, 7, 6, 13, 15, 3, 15,
    0, 11, 1, 10, 12, 14, 16, 9, 11, 5, 5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4,
    18, 17, 10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13, 16, 19, 2, 4, 6, 19,
    5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
]  # fmt: skip


def test_cifar10_reads_the_python_pickles(tmp_path):
    make_cifar(tmp_path, "cifar10", n_per_file=20)
    dm = CIFAR10DataModule(data_dir=str(tmp_path), eta=0.2, data_seed=1)
    dm.check_available()
    dm.setup()
    assert dm.train.x.shape == (100, 3, 32, 32) and dm.train.x.dtype == torch.uint8
    assert dm.test.x.shape == (20, 3, 32, 32)
    expected = np.concatenate([(np.arange(20) + i) % 10 for i in range(1, 6)])
    np.testing.assert_array_equal(dm.noise.clean_labels, expected)
    assert len(dm.noise.indices) == 20  # round(0.2 * 100)


def test_cifar100_fine_and_coarse_labels_come_from_the_same_files(tmp_path):
    make_cifar(tmp_path, "cifar100", n_per_file=40)
    fine = CIFAR100DataModule(data_dir=str(tmp_path), label_set="fine")
    coarse = CIFAR100DataModule(data_dir=str(tmp_path), label_set="coarse", eta=0.5, data_seed=2)
    fine.setup(), coarse.setup()
    assert (fine.num_classes, coarse.num_classes) == (100, 20)
    torch.testing.assert_close(fine.train.x, coarse.train.x)
    mapping = torch.tensor(CIFAR100_COARSE_OF_FINE)
    # The noise applies to the label set being trained: the coarse clean labels are the fine ones'
    # superclasses, and half of them are redrawn among the 20 coarse classes.
    np.testing.assert_array_equal(coarse.noise.clean_labels, mapping[fine.train.y].numpy())
    assert len(coarse.noise.indices) == 100 and coarse.train.y.max() < 20
    with pytest.raises(ConfigError, match="data.label_set='medium' is unknown; choose one of fine, coarse"):
        CIFAR100DataModule(label_set="medium")


def test_superclass_table_matches_the_published_one():
    assert list(CIFAR100_COARSE_OF_FINE) == KNOWN_COARSE_OF_FINE
    assert CIFAR100_FINE_NAMES[:3] == ("apple", "aquarium_fish", "baby") and len(CIFAR100_FINE_NAMES) == 100
    assert np.bincount(CIFAR100_COARSE_OF_FINE).tolist() == [5] * 20


def test_missing_cifar_names_the_folder_and_the_archive(tmp_path):
    dm = CIFAR10DataModule(data_dir=str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="cifar-10-python.tar.gz archive, unpacked"):
        dm.check_available()
    with pytest.raises(ConfigError, match=str(tmp_path / "none" / "cifar-10-batches-py")):
        dm.check_available()


def _offset_and_flip(batch: torch.Tensor) -> list[tuple[int, int, int]]:
    """Recover (row offset, column offset, flipped) of each crop of ``position_image``."""
    rows, cols = batch[:, 0, 16, 16].long(), batch[:, 1, 16, 16].long()
    flipped = (batch[:, 1, 16, 17].long() - cols) < 0
    col_offset = torch.where(flipped, cols - 12, cols - 13)
    return list(zip((rows - 13).tolist(), col_offset.tolist(), flipped.long().tolist(), strict=True))


def position_image() -> torch.Tensor:
    """Channel 0 holds row + 1, channel 1 column + 1: every crop and flip can be read back."""
    index = torch.arange(1, 33, dtype=torch.uint8)
    return torch.stack(
        [
            index.view(32, 1).expand(32, 32),
            index.view(1, 32).expand(32, 32),
            torch.zeros(32, 32, dtype=torch.uint8),
        ]
    )


def test_tensor_and_torchvision_augmentation_draw_from_the_same_distribution():
    n = 16_200  # 100 per (row offset, column offset, flip) cell
    image = position_image()
    batch = image.expand(n, 3, 32, 32).contiguous()
    ours = _offset_and_flip(random_crop_flip(batch, 4, torch.Generator().manual_seed(0)))
    torch.manual_seed(0)
    transform = crop_flip_transform((32, 32), 4)
    theirs = _offset_and_flip(torch.stack([transform(image) for _ in range(n)]))
    cells = [(r, c, f) for r in range(9) for c in range(9) for f in range(2)]
    assert set(ours) == set(theirs) == set(cells)  # every offset 0..8 and both flips, nothing else
    counts = np.array([[ours.count(cell), theirs.count(cell)] for cell in cells], dtype=float)
    # Chi-square test of homogeneity, 161 degrees of freedom: 99.9% critical value ~ 226.
    expected = counts.sum(1, keepdims=True) * counts.sum(0, keepdims=True) / counts.sum()
    assert ((counts - expected) ** 2 / expected).sum() < 226
    # And both are uniform over the 162 cells (same test against the uniform law).
    for column in counts.T:
        assert ((column - n / 162) ** 2 / (n / 162)).sum() < 226


def test_both_loader_paths_serve_every_training_point_once_per_epoch(tmp_path):
    make_cifar(tmp_path, "cifar10", n_per_file=20)
    for loader in ("tensor", "dataloader"):
        dm = CIFAR10DataModule(data_dir=str(tmp_path), loader=loader, num_workers=0, batch_size=32)
        dm.setup()
        seen = []
        for x, y, idx in dm.train_dataloader():
            assert x.dtype == torch.float32 and x.shape[1:] == (3, 32, 32) and x.min() >= 0 and x.max() <= 1
            assert torch.equal(y, dm.train.y[idx])
            seen += idx.tolist()
        assert sorted(seen) == list(range(100)), loader


@pytest.mark.parametrize(
    "experiment,extra",
    [
        ("cifar_noise", []),
        ("cifar_noise", ["arch=vgg19", "data.loader=dataloader", "data.num_workers=0"]),
        ("cifar_l2_at", []),
    ],
)
def test_cifar_experiments_run_end_to_end(tmp_path, experiment, extra):
    make_cifar(tmp_path / "data", "cifar10", n_per_file=8)
    proc = run_cli(
        f"+experiment={experiment}", *extra, *QUIET, "trainer.fast_dev_run=true", "data.batch_size=8",
        "attack.steps=2", "hydra.run.dir=run", cwd=tmp_path, env={"BENIGN_DATA_DIR": str(tmp_path / "data")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = read_json(tmp_path / "run" / "results.json")
    assert results["data"] == "cifar10" and results["n_train"] == 40 and results["n_test"] == 8
    assert set(results["adv_err_by_eps"]) >= {str(float(results["eps"]))}
