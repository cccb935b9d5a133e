"""Noise detection: the metrics against hand-computed values, every detector on constructed run
folders where the mislabelled points are known, the K-fold split, and real runs end to end."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from conftest import QUIET

from benign_lightning.analysis.detectors import gmm_flags
from benign_lightning.data.base import cv_fold_ids
from benign_lightning.data.toy_mnist import ToyMNISTDataModule
from benign_lightning.detect import detect, detection_metrics, main

# Ten training rows, three classes (each given to some row); rows 1, 5 and 6 are mislabelled.
CLEAN = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
NOISY = np.array([0, 2, 2, 0, 1, 0, 1, 1, 2, 0])
CORRUPTED = NOISY != CLEAN


def test_metrics_match_hand_computed_values():
    flagged = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0], dtype=bool)  # 2 of its 3 flags hit, 2 of 3 found
    corrupted = np.array([1, 1, 0, 0, 0, 1, 0, 0, 0, 0], dtype=bool)
    score = np.array([0.9, 0.4, 0.8, 0.1, 0.2, 0.7, 0.3, 0.0, 0.05, 0.5])
    m = detection_metrics(corrupted, flagged, score)
    assert (m["n"], m["n_noisy"], m["n_flagged"]) == (10, 3, 3)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    # Positives score 0.9, 0.4, 0.7; of the 21 (positive, negative) pairs 7 + 5 + 6 are ordered.
    assert m["auroc"] == pytest.approx(18 / 21)
    # Ranked: P N P N P ...: precision 1/1, 2/3, 3/5 at the three positives.
    assert m["ap"] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    none = detection_metrics(corrupted, np.zeros(10, dtype=bool), score)
    assert none["precision"] is None and none["recall"] == 0 and none["f1"] is None


def test_gmm_threshold_flags_the_high_mode_without_the_noise_rate():
    rng = np.random.default_rng(0)
    score = np.concatenate([rng.normal(0.1, 0.05, 900), rng.normal(2.0, 0.3, 100)])
    flagged = gmm_flags(score)
    assert flagged[900:].all() and not flagged[:900].any()
    assert not gmm_flags(np.ones(5)).any()  # a constant score flags nothing


def _write_run(folder, method, *, arrays=None, seed=0, heldout=None, cv_fold=None, wall=10.0):
    folder.mkdir(parents=True)
    results = {"status": "complete", "method": method, "data": "constructed", "eta": 0.3,
               "noise_mode": "uniform", "seed": seed, "wall_s": wall}  # fmt: skip
    (folder / "results.json").write_text(json.dumps(results))
    noise = {"indices": np.flatnonzero(CORRUPTED), "clean_labels": CLEAN, "noisy_labels": NOISY,
             "dataset_index": np.arange(10) + 100,
             "heldout": np.zeros(10, dtype=bool) if heldout is None else heldout}  # fmt: skip
    if cv_fold is not None:
        noise["cv_fold"] = cv_fold
    np.savez(folder / "noise.npz", **noise)
    for name, content in (arrays or {}).items():
        np.savez(folder / name, **content)


@pytest.fixture
def constructed(tmp_path):
    """Run folders of every detector on one mask, each with scores chosen by hand."""
    root = tmp_path / "runs"
    # The robust model predicts the clean label except on row 2 (wrong) and row 6 (fits its noise):
    # its errors are rows 1, 2, 5 (2 of 3 mislabelled; 2 of the 3 mislabelled found).
    train_pred = CLEAN.copy()
    train_pred[2], train_pred[6] = 0, 1
    margin = np.array([3, -2, -0.5, 2, 4, -1, 0.5, 1.5, 2.5, 3.5])
    predictions = {"train_pred": train_pred, "train_margin": margin, "train_loss": np.zeros(10)}
    _write_run(root / "at", "at", arrays={"predictions.npz": predictions})
    record = {
        "stable_fit_epoch": np.array([1, 5, 1, 2, 1, -1, 4, 1, 2, 1]),  # row 5 never fit: epoch 6
        "forgetting_events": np.array([0, 1, 0, 0, 0, 2, 0, 1, 0, 0]),
        "epochs": np.arange(1, 6),
        "loss_at_epoch": np.array([0.1, 2.0, 0.2, 0.3, 0.1, 1.5, 1.0, 0.2, 0.4, 0.1]),
        "loss_epoch": np.int64(3),
    }
    _write_run(root / "natural", "natural", arrays={"memorization.npz": record})
    # Two folds; each row's out-of-sample probabilities put 0.9 on its clean class.
    probs = np.full((10, 3), 0.05)
    probs[np.arange(10), CLEAN] = 0.9
    fold = np.arange(10) % 2
    for k in range(2):
        rows = fold == k
        pred_probs = {"dataset_index": np.arange(10)[rows] + 100, "labels": NOISY[rows],
                      "pred_probs": probs[rows], "fold": np.int64(k), "cv_folds": np.int64(2)}  # fmt: skip
        _write_run(root / "cv" / f"member_{k}", "natural", arrays={"pred_probs.npz": pred_probs}, seed=k,
                   heldout=rows, cv_fold=fold, wall=5.0)  # fmt: skip
    return root


def test_every_detector_is_scored_correctly_on_a_constructed_mask(constructed, tmp_path):
    rows = {r["detector"]: r for r in detect([constructed], tmp_path / "out")}
    at = rows["AT training errors"]
    assert (at["n_flagged"], at["precision"], at["recall"]) == (3, pytest.approx(2 / 3), pytest.approx(2 / 3))
    # Score −margin: positives 2, 1, −0.5 beat 7, 7 and 6 of the 7 negatives; ranked P P N P.
    assert at["auroc"] == pytest.approx(20 / 21) and at["ap"] == pytest.approx((1 + 1 + 3 / 4) / 3)
    assert at["wall_s"] == 10.0
    learning = rows["learning time (stable fit epoch)"]
    assert (learning["precision"], learning["recall"], learning["auroc"], learning["ap"]) == (1, 1, 1, 1)
    forgetting = rows["forgetting events"]
    # Positives 1, 2, 0 against negatives (six 0s, one 1), ties counting half: 6.5 + 7 + 3 of 21.
    assert forgetting["auroc"] == pytest.approx(16.5 / 21)
    small = rows["small loss (epoch 3)"]
    assert small["auroc"] == 1 and small["precision"] == 1 and small["recall"] == 1
    cl = rows["confident learning (2-fold CV)"]
    assert (cl["n_flagged"], cl["precision"], cl["recall"], cl["auroc"]) == (3, 1, 1, 1)
    assert cl["wall_s"] == 10.0  # both folds' runs
    with open(tmp_path / "out" / "detection.csv") as f:
        table = list(csv.DictReader(f))
    assert {r["detector"] for r in table} == set(rows)
    assert table[0]["setting"] == "constructed uniform eta=0.3"
    assert (tmp_path / "out" / "pr_constructed_uniform_eta0.3.png").stat().st_size > 10_000


def test_missing_fold_is_reported_and_the_others_still_scored(constructed, tmp_path, capsys):
    import shutil

    shutil.rmtree(constructed / "cv" / "member_1")
    rows = {r["detector"] for r in detect([constructed], tmp_path / "out")}
    assert "AT training errors" in rows and not any("confident" in r for r in rows)
    assert "cross-validation with 2 folds: folds [0] found, [1] wrong" in capsys.readouterr().err
    assert main([str(tmp_path / "nowhere")]) == 2


def test_k_folds_hold_each_point_out_once_deterministically_from_data_seed():
    folds = cv_fold_ids(103, 4, data_seed=7)
    assert sorted(np.bincount(folds)) == [25, 26, 26, 26]  # sizes differ by at most one
    np.testing.assert_array_equal(folds, cv_fold_ids(103, 4, data_seed=7))
    assert (folds != cv_fold_ids(103, 4, data_seed=8)).any()
    # Through the datamodule: fold k's held-out rows, over k = 0..3, are every row once, and the
    # noise is the same in every fold.
    held, noisy = [], []
    for k in range(4):
        dm = ToyMNISTDataModule(n_train=200, n_test=10, eta=0.2, data_seed=3, cv_folds=4, cv_fold=k)
        dm.setup()
        held.append(dm.heldout_mask)
        noisy.append(dm.noise.noisy_labels)
        assert len(dm.train) + len(dm.heldout) == 200 and len(dm.heldout) == 50
    np.testing.assert_array_equal(np.sum(held, axis=0), np.ones(200))
    assert all(np.array_equal(n, noisy[0]) for n in noisy)


def test_real_runs_end_to_end_give_every_detector(tmp_path, main_in_process):
    """A natural run (memorization record, small loss), an AT run and a 4-fold cross-validation
    ensemble on one toy-MNIST mask, then ``detect`` on the folders."""
    common = ["data.n_train=400", "data.n_test=100", "eta=0.2", "data_seed=0", "attack.steps=2",
              "attack.checks=none", *QUIET]  # fmt: skip
    for name, extra in {
        "natural": ["trainer.max_epochs=4", "small_loss_epoch=2"],
        "at": ["method=at", "eps=0.05", "train_attack.steps=2", "trainer.max_epochs=4"],
        "cv": ["ensemble.size=4", "data.cv_folds=4", "trainer.max_epochs=4"],
    }.items():
        code, _, err = main_in_process(*common, *extra, f"hydra.run.dir=runs/{name}")
        assert code == 0, err[-3000:]
    probs = [np.load(tmp_path / "runs" / "cv" / f"member_{k}" / "pred_probs.npz") for k in range(4)]
    joined = np.sort(np.concatenate([p["dataset_index"] for p in probs]))
    np.testing.assert_array_equal(joined, np.arange(400))  # every point held out by one fold
    assert all(np.allclose(p["pred_probs"].sum(1), 1, atol=1e-5) for p in probs)
    rows = {r["detector"]: r for r in detect([tmp_path / "runs"], tmp_path / "out")}
    assert set(rows) == {"AT training errors", "learning time (stable fit epoch)", "forgetting events",
                         "small loss (epoch 2)", "confident learning (4-fold CV)"}  # fmt: skip
    assert {r["n_noisy"] for r in rows.values()} == {80}  # one mask: 80 of the 400 labels flipped
    # Every score ranks the flipped labels above chance; robust training's errors and the learning
    # time (measured: AUROC 0.996 and 0.985) rank them almost perfectly after 4 epochs.
    assert all(r["auroc"] > 0.55 for r in rows.values()), rows
    assert rows["AT training errors"]["auroc"] > 0.95
    assert rows["learning time (stable fit epoch)"]["auroc"] > 0.95
