"""Real DDP: two CPU processes (gloo) started by torchrun train AT for a few steps."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import QUIET, read_json, run_cli

import benign_lightning
from benign_lightning.data import ToyMNISTDataModule
from benign_lightning.evaluation.evaluate import predict

N_TEST = 301  # odd, so the two ranks' shards differ in size


def test_adversarial_training_on_two_gloo_processes(tmp_path):
    overrides = [
        *QUIET, "method=at", "train_attack.steps=2", "eta=0.2", "data.n_train=1000", f"data.n_test={N_TEST}",
        "attack.steps=5", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp",
        "trainer.max_epochs=1", "trainer.min_epochs=null", "trainer.limit_train_batches=3",
        "hydra.run.dir=ddp",
    ]  # fmt: skip
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    proc = subprocess.run(
        [*cmd, "-m", "benign_lightning", *overrides],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    run_dir = tmp_path / "ddp"
    results = read_json(run_dir / "results.json")
    assert results["world_size"] == 2 and results["method"] == "at" and results["epochs"] == 1
    assert proc.stdout.count("results: ") == 1  # the summary comes from rank 0 only

    # Both ranks trained on the noisy labels a single process draws from the same data_seed.
    single = ToyMNISTDataModule(eta=0.2, data_seed=0, n_train=1000, n_test=N_TEST)
    single.setup()
    assert results["noise_digest_by_rank"] == [single.noise_digest()] * 2
    np.testing.assert_array_equal(np.load(run_dir / "noise.npz")["noisy_labels"], single.train.y.numpy())

    # The evaluation covered the test set exactly once: two disjoint shards, gathered in order.
    assert results["eval_shards"] == [[0, 151], [151, N_TEST]] and results["n_test"] == N_TEST
    model = benign_lightning.load_model(run_dir)
    arrays = np.load(run_dir / "predictions.npz")
    np.testing.assert_array_equal(arrays["test_pred"], predict(model, single.test, 1000).numpy())
    np.testing.assert_array_equal(arrays["train_pred"], predict(model, single.train, 1000).numpy())
    assert len(arrays["test_adv_correct"]) == N_TEST
    assert results["adv_err"] == (N_TEST - int(arrays["test_adv_correct"].sum())) / N_TEST
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 3


SMALL = [
    "trainer.max_epochs=1", "trainer.min_epochs=null", "data.n_train=400", f"data.n_test={N_TEST}",
    "attack.steps=3", "logger=none",
]  # fmt: skip


def test_ddp_cpu_trainer_one_folder_per_job(tmp_path):
    """Lightning's launcher re-runs the command for rank 1: a single run and each job of a sweep must
    still make exactly one folder and one results.json, covering the whole test set."""
    # Lightning's progress bar stays on here: rank 0 alone computes its values, which once deadlocked
    # DDP when a callback logged them with sync_dist=True (callbacks/logging.py).
    # Two epochs: the bar of the second shows what the callbacks logged at the end of the first.
    two_epochs = [o for o in SMALL if not o.startswith("trainer.max_epochs")] + ["trainer.max_epochs=2"]
    single = run_cli("trainer=ddp_cpu", *two_epochs, "progress=bar", "hydra.run.dir=single", cwd=tmp_path,
                     env={"COLUMNS": "300"}, timeout=300)  # fmt: skip (a wide bar shows every value)
    assert single.returncode == 0, single.stderr[-3000:]
    assert "train/full_err" in single.stdout + single.stderr  # the bar showed the gathered value
    sweep = run_cli(
        "-m",
        "trainer=ddp_cpu",
        "seed=0,1",
        *SMALL,
        *QUIET,
        "hydra.sweep.dir=sweep",
        cwd=tmp_path,
        timeout=300,
    )
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["single", "sweep"]  # no stray outputs/
    jobs = sorted(p for p in (tmp_path / "sweep").iterdir() if p.is_dir())
    assert len(jobs) == 2
    for run_dir in [tmp_path / "single", *jobs]:
        results = read_json(run_dir / "results.json")
        assert results["world_size"] == 2 and results["n_test"] == N_TEST
        assert results["eval_shards"] == [[0, 151], [151, N_TEST]]
        assert (run_dir / "train_ddp_process_1.log").exists()  # rank 1 ran in this job's folder
    assert [read_json(j / "results.json")["seed"] for j in jobs] == [0, 1]


def test_two_ranks_train_the_recipe_of_one_process(tmp_path, main_in_process):
    """data.batch_size is the global batch: 2 ranks of 32 take the SGD steps of 1 process of 64, on
    the same batches (EpochPermutation deals batch t's rows to the ranks), and end with the same
    weights up to the order of float sums (DDP averages the ranks' mean gradients). Measured: the
    largest difference of any weight after 16 steps is 7.5e-9 (weights up to 0.054); asserted
    within 1e-6 absolute. The per-epoch curves (torchmetrics, each rank its shard) are the same:
    the natural ones exactly, the adversarial one within the attack's random starts, which differ
    by rank."""
    recipe = [*QUIET, "eta=0.2", "data.n_train=512", "data.n_test=64", "data.batch_size=64",
              "trainer.max_epochs=2", "trainer.min_epochs=null", "stop_at_zero_train_err=false",
              "attack.steps=2", "logger=none", "memorization=false", "trainer.accelerator=cpu",
              "curves.enabled=true", "curves.attack.steps=3"]  # fmt: skip
    code, _, stderr = main_in_process(*recipe, "hydra.run.dir=one")
    assert code == 0, stderr[-3000:]
    two = run_cli(*recipe, "trainer=ddp_cpu", "hydra.run.dir=two", cwd=tmp_path,
                  env={"OMP_NUM_THREADS": "1"}, timeout=300)  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    one_results = read_json(tmp_path / "one" / "results.json")
    two_results = read_json(tmp_path / "two" / "results.json")
    assert (one_results["world_size"], two_results["world_size"]) == (1, 2)
    assert (one_results["batch_size"], one_results["batch_size_per_rank"]) == (64, 64)
    assert (two_results["batch_size"], two_results["batch_size_per_rank"]) == (64, 32)
    ckpts = [torch.load(tmp_path / r / "checkpoints/last.ckpt", weights_only=True) for r in ("one", "two")]
    assert ckpts[0]["global_step"] == ckpts[1]["global_step"] == 16  # 2 epochs of 512 / 64
    for name, weight in ckpts[0]["state_dict"].items():
        torch.testing.assert_close(ckpts[1]["state_dict"][name], weight, rtol=0, atol=1e-6, msg=name)
    for stem in ("train_err", "train_err_clean", "noise_fit", "test_err"):
        assert two_results[f"{stem}_by_epoch"] == pytest.approx(one_results[f"{stem}_by_epoch"], abs=1e-6)
    assert one_results["train_err_by_epoch"][-1] == pytest.approx(one_results["train_err"], abs=1e-6)
    adv_one, adv_two = one_results["test_adv_err_by_epoch"], two_results["test_adv_err_by_epoch"]
    assert len(adv_one) == len(adv_two) == 2
    assert adv_two == pytest.approx(adv_one, abs=4 / 64)  # 64 test points, starts drawn per rank


def test_ddp_results_are_the_checkpoints_with_batchnorm(tmp_path):
    """Each rank evaluates its shard of the test set. With BatchNorm every rank's running statistics
    are its own batches' after training, so rank 1 scored other weights than the checkpoint's (rank
    0's): measured without SameBuffersOnAllRanks, 5 of rank 1's 50 test predictions differed from the
    saved model's. Now every rank takes rank 0's buffers first, and results are the checkpoint's."""
    run = run_cli(
        "trainer=ddp_cpu", "arch=preact_resnet18", "data.n_train=256", "data.n_test=101",
        "data.batch_size=64", "trainer.max_epochs=1", "trainer.min_epochs=null",
        "trainer.limit_train_batches=2", "attack.steps=1", "attack.restarts=1", "attack.checks=none",
        "memorization=false", *QUIET, "hydra.run.dir=r", cwd=tmp_path, env={"OMP_NUM_THREADS": "1"},
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    single = ToyMNISTDataModule(eta=0.2, data_seed=0, n_train=256, n_test=101)
    single.setup()
    saved = benign_lightning.load_model(tmp_path / "r")
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in saved.modules())
    np.testing.assert_array_equal(np.load(tmp_path / "r" / "predictions.npz")["test_pred"],
                                  predict(saved, single.test, 1000).numpy())  # fmt: skip
