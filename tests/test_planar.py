"""The synthetic planar datamodules (circles, blobs, lattice, intervals): shapes, labels from their
rule, the exact noise count, determinism, and a run of each through the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import QUIET, read_json

from benign_lightning.data import BlobsDataModule, CirclesDataModule, IntervalsDataModule, LatticeDataModule
from benign_lightning.plumbing.errors import ConfigError

MODULES = {"circles": CirclesDataModule, "blobs": BlobsDataModule, "lattice": LatticeDataModule,
           "intervals": IntervalsDataModule}  # fmt: skip


def _setup(cls, **kwargs):
    dm = cls(n_train=2000, n_test=500, **kwargs)
    dm.setup()
    return dm


@pytest.mark.parametrize("name", list(MODULES))
def test_shapes_noise_count_and_determinism(name):
    cls = MODULES[name]
    dm = _setup(cls, eta=0.1, data_seed=3)
    dim = 1 if name == "intervals" else 2
    assert dm.train.x.shape == (2000, dim) and dm.train.x.dtype == torch.float32 and len(dm.test) == 500
    assert dm.input_range is None  # no box: attacks do not clamp
    assert int(dm.noise.corrupted.sum()) == 200  # flip: exactly round(eta * n)
    assert set(np.unique(dm.noise.clean_labels)) == {0, 1} and len(dm.train_groups) == 2000
    again = _setup(cls, eta=0.1, data_seed=3)
    assert torch.equal(again.train.x, dm.train.x) and torch.equal(again.train.y, dm.train.y)
    other = _setup(cls, eta=0.1, data_seed=4)
    assert not torch.equal(other.train.x, dm.train.x)


def test_circles_are_disjoint_discs_sampled_by_area():
    dm = _setup(CirclesDataModule)
    c, r = dm.centres, dm.radii
    for i in range(len(r)):
        for j in range(i):
            assert np.linalg.norm(c[i] - c[j]) > r[i] + r[j]
    x, groups = dm.train.x.numpy(), dm.train_groups
    assert (np.linalg.norm(x - c[groups], axis=1) <= r[groups] + 1e-6).all()
    assert (dm.noise.clean_labels == dm.disc_labels[groups]).all()
    share = np.bincount(groups, minlength=len(r)) / len(groups)
    np.testing.assert_allclose(share, r**2 / (r**2).sum(), atol=0.03)  # small discs are rare
    assert {0, 1} <= set(dm.disc_labels[r == r.min()]) and {0, 1} <= set(dm.disc_labels[r == r.max()])


@pytest.mark.parametrize("gap", [0.2, 0.5])
def test_satellite_discs_sit_beside_a_large_disc_of_the_other_label(gap):
    dm = CirclesDataModule(n_large=3, n_small=6, satellite_gap=gap)
    large, small = np.flatnonzero(dm.radii == 1.2), np.flatnonzero(dm.radii == 0.3)
    for k, i in enumerate(small):
        host = large[k % len(large)]
        edge_gap = np.linalg.norm(dm.centres[i] - dm.centres[host]) - 1.2 - 0.3
        assert edge_gap == pytest.approx(gap) and dm.disc_labels[i] != dm.disc_labels[host]
    assert CirclesDataModule(satellite_gap=None).centres.tolist() != dm.centres.tolist()
    with pytest.raises(ConfigError, match="data.satellite_gap must be > 0"):
        CirclesDataModule(satellite_gap=0)


def test_blobs_are_a_checkerboard():
    dm = _setup(BlobsDataModule)
    nearest = np.argmin(np.linalg.norm(dm.train.x.numpy()[:, None] - dm.centres[None], axis=2), axis=1)
    agree = (nearest == dm.train_groups).mean()
    assert agree > 0.99 and (dm.noise.clean_labels == dm.blob_labels[dm.train_groups]).all()
    assert list(dm.blob_labels[:3]) == [0, 1, 0]  # neighbours differ


@pytest.mark.parametrize("label_set", ["coarse", "fine", "fine2coarse"])
def test_lattice_labels_are_the_parity_or_the_disc(label_set):
    dm = _setup(LatticeDataModule, label_set=label_set)
    x, groups = dm.train.x.numpy(), dm.train_groups
    centre = dm.centres[groups]
    assert (np.linalg.norm(x - centre, axis=1) <= dm.radius + 1e-6).all()
    parity = centre.sum(1).astype(int) % 2
    clean = dm.noise.clean_labels
    if label_set == "coarse":
        assert dm.num_classes == 2 and (clean == parity).all()
    else:
        assert dm.num_classes == 10 and (clean == groups).all()
    if label_set == "fine2coarse":  # evaluated on the parity
        assert set(dm.test.y.tolist()) == {0, 1} and (dm.eval_train.y.numpy() == parity).all()
    # A line separates the classes: y - x is 0 on the diagonal discs and 1 above them.
    assert ((x[:, 1] - x[:, 0] > 0.5) == (parity == 1)).all()


def test_intervals_labels_are_the_hidden_parity():
    dm = _setup(IntervalsDataModule, bits=5, subset=[0, 3])
    x, i = dm.train.x.numpy()[:, 0], dm.train_groups
    assert (np.abs(x - i) < 0.25).all() and i.min() >= 1 and i.max() < 32
    expected = ((i & 1) ^ ((i >> 3) & 1)).astype(int)
    assert (dm.noise.clean_labels == expected).all()
    drawn = IntervalsDataModule(bits=6, subset_size=3)
    assert len(drawn.subset) == 3 and drawn.subset == IntervalsDataModule(bits=6, subset_size=3).subset


def test_bad_layouts_are_refused():

    with pytest.raises(ConfigError, match="radius < 0.5"):
        LatticeDataModule(radius=0.6)
    with pytest.raises(ConfigError, match="data.subset"):
        IntervalsDataModule(bits=4, subset=[5])
    with pytest.raises(ConfigError, match="data.label_set"):
        LatticeDataModule(label_set="bogus")
    with pytest.raises(ConfigError, match="noise_mode='flip' is for binary labels, this dataset has 10"):
        LatticeDataModule(label_set="fine", eta=0.1)


@pytest.mark.parametrize("name", list(MODULES))
def test_each_runs_through_the_cli(name, tmp_path, main_in_process):
    code, _, stderr = main_in_process(f"data={name}", "eta=0.1", "trainer.max_epochs=2", "data.n_train=200",
                                      "data.n_test=100", "attack.steps=5", "logger=none", *QUIET,
                                      "hydra.run.dir=r")  # fmt: skip
    assert code == 0, stderr
    results = read_json(tmp_path / "r" / "results.json")
    assert results["data"] == name and 0 <= results["adv_err"] <= 1 and results["n_train_errors"] >= 0
    by_size = results["train_err_by_group_size"]
    assert sum(g["points"] for g in by_size.values()) == 200
    errors = sum(g["train_err"] * g["points"] for g in by_size.values())
    assert round(errors) == results["n_train_errors"]  # the per-size errors add up to the run's
    if name != "intervals":  # in the plane: the decision regions with the training points
        assert (tmp_path / "r" / results["decision_regions"]).read_bytes()[:4] == b"\x89PNG"


def test_errors_by_group_size_counts_by_hand():
    from benign_lightning.analysis.planar import errors_by_group_size

    sizes = np.array([1.0, 0.3, 0.3])  # group 0 large, groups 1 and 2 small
    groups = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    given = np.zeros(8, dtype=int)
    pred = np.array([0, 0, 0, 1, 1, 1, 0, 1])  # large: 1 of 4 wrong; small: 3 of 4 wrong
    out = errors_by_group_size(pred, given, groups, sizes)
    # group 1 is lost (2 of 2 wrong); group 2 is half wrong, not lost
    assert out == {"0.3": {"train_err": 0.75, "groups": 2, "groups_lost": 1, "points": 4},
                   "1": {"train_err": 0.25, "groups": 1, "groups_lost": 0, "points": 4}}  # fmt: skip
