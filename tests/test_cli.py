"""The CLI end to end, as a user runs it: results contract, determinism, sweeps, bad input."""

from __future__ import annotations

from importlib import metadata, resources
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ON_CPU, QUIET, read_json, run_cli

import benign_lightning

CONTRACT_KEYS = {
    "natural_err", "adv_err", "adv_err_by_eps", "train_err", "noisy_fit", "n_noisy",
    "noise_detect_precision", "noise_detect_recall", "n_train", "n_test", "epochs", "wall_s",
}  # fmt: skip
# Compared bit for bit (a rerun, a resumed run): on the CPU.
FAST_TOY = [*QUIET, *ON_CPU, "trainer.max_epochs=3", "attack.steps=20", "data.n_train=1000",
            "data.n_test=300"]  # fmt: skip


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> tuple[Path, object]:
    cwd = tmp_path_factory.mktemp("toy_cli")
    proc = run_cli(*FAST_TOY, "hydra.run.dir=run", cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return cwd / "run", proc


def test_configs_ship_inside_the_package():
    conf = resources.files(benign_lightning) / "conf"
    assert (conf / "config.yaml").is_file() and (conf / "experiment" / "mnist_noise.yaml").is_file()


def test_default_run_writes_the_results_contract(toy_run):
    run_dir, proc = toy_run
    results = read_json(run_dir / "results.json")
    assert results.keys() >= CONTRACT_KEYS
    assert results["status"] == "complete" and results["n_train"] == 1000 and results["n_test"] == 300
    assert results["eta"] == 0.1 and results["epochs"] >= 1
    assert set(results["adv_err_by_eps"]) == {str(64 / 255)}
    assert results["adv_err"] >= results["natural_err"]
    noise = np.load(run_dir / "noise.npz")
    assert len(noise["indices"]) == 100 and (noise["noisy_labels"] != noise["clean_labels"]).sum() == 100
    assert results["n_noisy"] == 100
    assert "eta: 0.1" in (run_dir / "config.yaml").read_text()
    assert "${" not in (run_dir / "config.yaml").read_text()  # resolved
    env = read_json(run_dir / "env.json")
    assert env["versions"]["torch"] == metadata.version("torch") and env["argv"][0].endswith("__main__.py")
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    # The short table a user sees at the end.
    for word in ("natural_err", "adv_err", "train_err", "results:"):
        assert word in proc.stdout


def test_load_model_reproduces_the_recorded_predictions(toy_run):
    run_dir, _ = toy_run
    model = benign_lightning.load_model(run_dir)
    assert not model.training
    from benign_lightning.data import ToyMNISTDataModule

    dm = ToyMNISTDataModule(eta=0.1, data_seed=0, n_train=1000, n_test=300)
    dm.setup()
    with torch.no_grad():
        pred = model(dm.test.x).argmax(1).numpy()
    np.testing.assert_array_equal(pred, np.load(run_dir / "predictions.npz")["test_pred"])


def test_same_seed_same_results(toy_run, tmp_path):
    run_dir, _ = toy_run
    proc = run_cli(*FAST_TOY, "hydra.run.dir=again", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, second = read_json(run_dir / "results.json"), read_json(tmp_path / "again" / "results.json")
    for key in ("wall_s",):
        first.pop(key), second.pop(key)
    assert first == second
    for f in ("noise.npz", "predictions.npz"):
        a, b = np.load(run_dir / f), np.load(tmp_path / "again" / f)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])


def test_stops_as_soon_as_train_error_is_zero(tmp_path):
    proc = run_cli(
        *QUIET, "eta=0", "trainer.max_epochs=40", "attack.steps=5", "hydra.run.dir=r", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = read_json(tmp_path / "r" / "results.json")
    assert results["stopped_at_zero_train_err"] and results["train_err"] == 0.0
    assert 3 <= results["epochs"] < 40


def test_multirun_writes_one_folder_per_job(tmp_path):
    proc = run_cli(
        "+experiment=toy_mnist",
        "-m",
        "eta=0,0.2",
        *FAST_TOY,
        "trainer.max_epochs=1",
        "attack.steps=2",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = sorted((tmp_path / "outputs" / "multirun" / "toy_mnist").glob("*/*/results.json"))
    assert len(jobs) == 2
    assert sorted(read_json(j)["eta"] for j in jobs) == [0.0, 0.2]


def test_mnist_noise_on_real_mnist(mnist_root, tmp_path):
    proc = run_cli(
        "+experiment=mnist_noise", *QUIET, "eta=0.2", "data.train_subset=2000", "data.test_subset=300",
        "trainer.max_epochs=1", "hydra.run.dir=r", cwd=tmp_path, env={"BENIGN_DATA_DIR": str(mnist_root)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = read_json(tmp_path / "r" / "results.json")
    assert results["arch"] == "mnist_cnn" and results["n_train"] == 2000 and results["n_test"] == 300
    assert set(results["adv_err_by_eps"]) == {"0.0", "0.02", "0.05", "0.1", "0.15", "0.2", "0.25", "0.3"}
    errs = [results["adv_err_by_eps"][k] for k in ("0.0", "0.1", "0.3")]
    assert errs[0] == results["natural_err"] and errs == sorted(errs)
    assert len(np.load(tmp_path / "r" / "noise.npz")["indices"]) == 400
    # The default step is relative to each eps, so every eps of the grid is reachable (App. D.1's
    # 20 steps of 0.01, attack=paper_mnist, are not, and say so: test_evaluation.py).
    assert "PGD cannot use the budget" not in proc.stdout + proc.stderr
    assert results["attack"]["name"] == "pgd" and results["attack"]["rel_step_size"] == 2.5 / 50
    raw, envelope = results["adv_err_by_eps_raw"], results["adv_err_by_eps"]
    assert all(envelope[k] >= raw[k] for k in raw) and list(envelope.values()) == sorted(envelope.values())


def test_bad_input_exit_status_of_the_command(tmp_path):
    """The same as above through a real ``python -m benign_lightning`` process."""
    proc = run_cli("eta=1.5", *QUIET, "hydra.run.dir=r", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("error: eta=1.5: must be a number in [0, 1]")
    assert "Traceback" not in proc.stderr and not (tmp_path / "r" / "results.json").exists()


def test_rerun_into_a_run_folder_resumes_and_matches_an_uninterrupted_run(tmp_path):
    """Stop after 2 epochs, rerun the same folder for 4: same results as 4 epochs in one go.

    Adversarial training, so the attack's random starts and the memorization record must resume
    too."""
    common = [*FAST_TOY, "method=at", "train_attack.steps=2", "eps=0.05", "logger=none"]
    first = run_cli(*common, "trainer.max_epochs=2", "hydra.run.dir=resumed", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_cli(*common, "trainer.max_epochs=4", "hydra.run.dir=resumed", cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    straight = run_cli(*common, "trainer.max_epochs=4", "hydra.run.dir=straight", cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr[-3000:]
    resumed, direct = (
        read_json(tmp_path / "resumed" / "results.json"),
        read_json(tmp_path / "straight" / "results.json"),
    )
    assert resumed["resumed"] and not direct["resumed"]
    assert (resumed["start_epoch"], direct["start_epoch"]) == (2, 0)
    for key in ("wall_s", "resumed", "start_epoch", "resumed_from"):
        resumed.pop(key), direct.pop(key)
    assert resumed == direct
    for name in ("memorization.npz", "predictions.npz"):
        a, b = np.load(tmp_path / "resumed" / name), np.load(tmp_path / "straight" / name)
        assert a.files == b.files
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}:{key}")
    assert list(np.load(tmp_path / "resumed" / "memorization.npz")["epochs"]) == [1, 2, 3, 4]
