"""§3.2 on toy-MNIST through the CLI: natural training fits the noise and is not robust; AT and
TRADES leave the corrupted points unfit and are robust. Plus the memorization record, the
comparison script and early stopping on a held-out split."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import QUIET, REPO, make_idx_mnist, read_json, run_cli, run_cli_parallel

from benign_lightning.analysis.compare import training_datamodule
from benign_lightning.results import load_model

# σ² = 0.5, η = 0.2 (flip noise). ε = 0.05: the natural model's adversarial error there is ~0.9;
# at 0.1 AT from scratch stays a constant classifier on this data (see the note).
TOY = [*QUIET, "data.clip=true", "eta=0.2", "eps=0.05",  # the thresholds below were set on clipped data
       "data.n_train=2000", "data.n_test=500", "attack.steps=50"]
ROBUST = ["trainer.max_epochs=10", "trainer.min_epochs=null", "train_attack.steps=5"]


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory) -> dict[str, Path]:
    cwd = tmp_path_factory.mktemp("toy_robust")
    overrides = {
        method: [
            *TOY,
            f"method={method}",
            *([] if method == "natural" else ROBUST),
            f"hydra.run.dir={method}",
        ]
        for method in ("natural", "at", "trades")
    }
    run_cli_parallel(overrides, cwd=cwd)
    return {method: cwd / method for method in overrides}


def test_robust_training_refuses_to_fit_the_noise(toy_runs):
    r = {m: read_json(d / "results.json") for m, d in toy_runs.items()}
    assert [r[m]["method"] for m in ("natural", "at", "trades")] == ["natural", "at", "trades"]
    natural = r["natural"]
    assert natural["train_err"] <= 0.01 and natural["noisy_fit"] >= 0.95
    assert natural["adv_err"] >= 0.7
    for m in ("at", "trades"):
        res = r[m]
        # Their training errors are mostly the corrupted points (noise rate 0.2) ...
        assert res["noise_detect_precision"] >= 0.8, (m, res)
        # ... and most corrupted points stay unfit.
        assert res["noisy_fit"] <= 0.5 and res["noise_detect_recall"] >= 0.5, (m, res)
        assert res["adv_err"] <= natural["adv_err"] - 0.4, (m, res["adv_err"], natural["adv_err"])


def test_memorization_record_agrees_with_the_final_predictions(toy_runs):
    for method, run_dir in toy_runs.items():
        mem = np.load(run_dir / "memorization.npz")
        pred = np.load(run_dir / "predictions.npz")["train_pred"]
        noise = np.load(run_dir / "noise.npz")
        given = noise["noisy_labels"]
        np.testing.assert_array_equal(mem["fit_final"], pred == given)
        np.testing.assert_array_equal(mem["corrupted"], given != noise["clean_labels"])
        np.testing.assert_array_equal(mem["dataset_index"], noise["dataset_index"])
        epochs = read_json(run_dir / "results.json")["epochs"]
        assert list(mem["epochs"]) == list(range(1, epochs + 1)), method
        assert np.isclose(mem["noisy_fit"][-1], mem["fit_final"][mem["corrupted"]].mean())
        stable, first = mem["stable_fit_epoch"], mem["first_fit_epoch"]
        assert ((stable > 0) == mem["fit_final"]).all() and (first[stable > 0] <= stable[stable > 0]).all()


def test_mislabelled_points_take_longer_to_be_fit(toy_runs):
    """Figure 3's observation, read from the natural run's memorization record."""
    mem = np.load(toy_runs["natural"] / "memorization.npz")
    stable, corrupted = mem["stable_fit_epoch"], mem["corrupted"]
    assert np.median(stable[corrupted]) > np.median(stable[~corrupted])
    results = read_json(toy_runs["natural"] / "results.json")
    assert results["fit_epoch_median_noisy"] > results["fit_epoch_median_clean"]


def compare_fit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = REPO / "scripts" / "compare_fit.py"
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_compare_fit_lists_what_natural_fits_and_at_does_not(toy_runs, tmp_path):
    out = tmp_path / "grid.png"
    proc = compare_fit(
        str(toy_runs["natural"]), str(toy_runs["at"]), "--out", str(out), "--max-images", "16", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    natural = np.load(toy_runs["natural"] / "predictions.npz")["train_pred"]
    at = np.load(toy_runs["at"] / "predictions.npz")["train_pred"]
    noise = np.load(toy_runs["natural"] / "noise.npz")
    given, clean = noise["noisy_labels"], noise["clean_labels"]
    listed = (natural == given) & (at != given)
    expected = f"{listed.sum()} of {len(given)} training points are fit by A and not by B; "
    expected += f"{(listed & (given != clean)).sum()} of them"
    assert expected in proc.stdout
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_fit_refuses_runs_on_different_data(toy_runs, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(toy_runs["at"], other)
    noise = dict(np.load(other / "noise.npz"))
    noise["noisy_labels"] = 1 - noise["noisy_labels"]  # as if trained with other labels
    np.savez(other / "noise.npz", **noise)
    proc = compare_fit(str(toy_runs["natural"]), str(other), cwd=tmp_path)
    assert proc.returncode == 2 and "trained on different data (noisy_labels differs" in proc.stderr


def test_early_stopping_on_heldout_adversarial_error(tmp_path):
    """Natural training memorises the noise and its held-out adversarial error rises: early stopping
    ends the run and evaluates the best epoch's weights."""
    proc = run_cli(
        *TOY, "early_stopping.enabled=true", "data.holdout=0.25", "early_stopping.patience=2",
        "early_stopping.steps=10", "stop_at_zero_train_err=false", "trainer.max_epochs=40",
        "trainer.min_epochs=null", "hydra.run.dir=es", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = read_json(tmp_path / "es" / "results.json")
    assert results["early_stopped"] and results["epochs"] < 40
    assert results["n_train"] == 1500 and results["heldout_adv_err_best"] is not None
    assert (tmp_path / "es" / "checkpoints" / "best.ckpt").exists()
    assert np.load(tmp_path / "es" / "noise.npz")["heldout"].sum() == 500
    # The best epoch comes before the model fits the noise.
    assert results["noisy_fit"] < 0.5
    # load_model gives the weights that were evaluated (best.ckpt), not the last epoch's.
    assert results["evaluated_checkpoint"] == "checkpoints/best.ckpt"
    test = training_datamodule(tmp_path / "es").test
    with torch.no_grad():
        pred = load_model(tmp_path / "es")(test.inputs(torch.arange(len(test)))).argmax(1).numpy()
    np.testing.assert_array_equal(pred, np.load(tmp_path / "es" / "predictions.npz")["test_pred"])


def test_early_stopping_without_heldout_split_is_refused(main_in_process):
    code, _, stderr = main_in_process(*QUIET, "early_stopping.enabled=true", "hydra.run.dir=r")
    assert code == 2
    assert "early_stopping.enabled=true needs a held-out split: set data.holdout" in stderr


def test_mnist_robust_noise_runs_all_three_methods(tmp_path):
    """The §3.2 experiment as a user sweeps it (one quick batch each, on tiny MNIST-format files)."""
    make_idx_mnist(tmp_path / "data", n_train=200, n_test=20)
    proc = run_cli(
        "+experiment=mnist_robust_noise", "-m", "method=natural,at,trades", *QUIET,
        "trainer.fast_dev_run=true", "data.batch_size=16", "attack.steps=2", "hydra.sweep.dir=sweep",
        cwd=tmp_path, env={"BENIGN_DATA_DIR": str(tmp_path / "data")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = sorted((tmp_path / "sweep").glob("*/results.json"))
    results = [read_json(r) for r in runs]
    assert [r["method"] for r in results] == ["natural", "at", "trades"]
    for r in results:
        assert r["eta"] == 0.15 and r["eps"] == 0.3 and r["n_noisy"] + r["n_train_errors"] > 0
        assert set(r["adv_err_by_eps"]) == {"0.0", "0.1", "0.2", "0.3"}
    config = (runs[1].parent / "config.yaml").read_text()
    assert "steps: 30" in config and "step_size: 0.01" in config  # §3.2: AT with 30 steps of 0.01
