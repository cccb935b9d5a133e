"""``python -m benign_lightning.reproduce``: every figure at smoke scale, claims that must fail
failing, reruns that skip finished jobs, and a registry whose experiments all compose."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import read_json

from benign_lightning.reproduce.entry import SCALES
from benign_lightning.reproduce.registry import ENTRIES, FIG2A, FIG7, THM2
from benign_lightning.reproduce.report import FAILS, HOLDS, NOT_JUDGED, NOT_RUN, TOO_FEW, check_claims
from benign_lightning.reproduce.results import Results
from benign_lightning.reproduce.runner import first_job, job_count, one_process


def _reproduce(*args: str, cwd, data_dir, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "BENIGN_DATA_DIR": str(data_dir), "WANDB_MODE": "disabled"}
    return subprocess.run([sys.executable, "-m", "benign_lightning.reproduce", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def test_every_entry_composes_and_every_claim_names_its_source():
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from benign_lightning.config import validate

    assert len({e.name for e in ENTRIES}) == len(ENTRIES)
    for entry in ENTRIES:
        assert set(entry.sweeps) == set(SCALES), entry.name
        assert entry.claims and all(c.source and c.paper for c in entry.claims), entry.name
        assert all(
            any(w in c.source for w in ("§", "App.", "Theorem", "Figure", "Table", "Wang", "Rice", "Dong"))
            for c in entry.claims
        )
        for scale, sweeps in entry.sweeps.items():
            # A sweep's name is its folder: two of one name would share it, and the second run nothing.
            assert len({s.name for s in sweeps}) == len(sweeps), (entry.name, scale)
            for sweep in sweeps:
                assert job_count(sweep, []) >= 1
                GlobalHydra.instance().clear()
                with initialize_config_module(config_module="benign_lightning.conf", version_base="1.3"):
                    cfg = compose(config_name="config", overrides=first_job(sweep, []))
                validate(
                    cfg, check_data=False, warn=False
                )  # the data may not be here; the rest must be right
                GlobalHydra.instance().clear()
                assert cfg.name, (entry.name, scale, sweep.name)


def _fabricated_toy_sweep(root, rows):
    """Toy-MNIST job folders as the app leaves them (results.json, config.yaml, .hydra/overrides.yaml)."""
    for i, (sigma2, eta, train, test, adv) in enumerate(rows):
        job = root / f"{i}_job"
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(
            yaml.safe_dump([f"eta={eta}", f"data.sigma2={sigma2}"])
        )
        (job / "config.yaml").write_text(yaml.safe_dump({"data": {"sigma2": sigma2}, "seed": 0}))
        results = {
            "status": "complete",
            "eta": eta,
            "seed": 0,
            "train_err": train,
            "natural_err": test,
            "adv_err": adv,
        }
        (job / "results.json").write_text(json.dumps(results))


def test_a_claim_that_does_not_hold_is_reported_so(tmp_path):
    # σ² = 0.5 with the adversarial error flat in η: Figure 2a's claim must fail.
    _fabricated_toy_sweep(tmp_path / "flat", [(0.5, 0.0, 0.0, 0.01, 0.30), (0.5, 0.2, 0.0, 0.08, 0.35)])
    verdicts = {v.id: v for v in check_claims(FIG2A, Results({"toy": tmp_path / "flat"}), None)}
    assert verdicts["sigma2=0.5"].verdict == FAILS
    assert "η=0.2: train 0.000, test 0.080, adv 0.350" in verdicts["sigma2=0.5"].ours
    assert verdicts["sigma2=0.1"].verdict.startswith(
        "not run: no finished run of sweep 'toy' with data.sigma2=0.1"
    )
    # The same claim on results where it holds.
    _fabricated_toy_sweep(tmp_path / "rise", [(0.5, 0.0, 0.0, 0.01, 0.30), (0.5, 0.2, 0.0, 0.08, 1.0)])
    rise = {v.id: v for v in check_claims(FIG2A, Results({"toy": tmp_path / "rise"}), None)}
    assert rise["sigma2=0.5"].verdict == HOLDS
    # Results without a value the check reads (an older run): not run, saying why, not a crash.
    _fabricated_toy_sweep(tmp_path / "old", [(0.5, 0.0, None, 0.01, 0.30), (0.5, 0.2, None, 0.08, 1.0)])
    old = {v.id: v for v in check_claims(FIG2A, Results({"toy": tmp_path / "old"}), None)}
    assert old["sigma2=0.5"].verdict.startswith("not run: sweep 'toy': no value of train_err")
    for i, method in enumerate(("natural", "at")):  # Figure 7's runs without their per-disc errors
        job = tmp_path / "circles" / f"{i}_job"
        (job / ".hydra").mkdir(parents=True)
        overrides = [f"method={method}", "model=mlp_4x100"]
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        (job / "results.json").write_text(json.dumps({"status": "complete", "method": method, "seed": 0}))
    fig7 = check_claims(FIG7, Results({"circles": tmp_path / "circles"}), None)
    assert fig7[0].verdict.startswith("not run: the check could not read the results (ValueError")
    # A missing dataset: every claim not run, with the reason.
    missing = check_claims(FIG2A, None, "MNIST not found in /nowhere")
    assert {v.verdict for v in missing} == {"not run: MNIST not found in /nowhere"}


def test_a_rerun_runs_no_finished_job_again_and_reruns_a_deleted_one(tmp_path, smoke_all):
    """On the folder ``reproduce all --scale smoke`` left for thm2 (the first run, copied: its paths
    are relative to the folder it ran in)."""
    args = ("thm2", "--scale", "smoke", "--out", "repro")
    shutil.copytree(smoke_all[0] / "repro" / "thm2", tmp_path / "repro" / "thm2")
    runs = tmp_path / "repro" / "thm2" / "smoke" / "runs" / "exact"
    results = sorted(runs.glob("*/results.json"))
    assert len(results) == job_count(THM2.sweeps["smoke"][0], []) == 4
    stamps = {p: p.stat().st_mtime_ns for p in results}
    again = _reproduce(*args, cwd=tmp_path, data_dir=tmp_path)
    assert again.returncode == 0 and "4 jobs, 4 finished, 0 to run" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in results} == stamps
    results[1].unlink()
    third = _reproduce(*args, cwd=tmp_path, data_dir=tmp_path)
    assert third.returncode == 0 and "4 jobs, 3 finished, 1 to run" in third.stdout
    assert third.stdout.count("complete, skipped") == 3
    assert all(p.stat().st_mtime_ns == stamps[p] for p in results if p != results[1])
    assert results[1].exists()
    claims = read_json(tmp_path / "repro" / "thm2" / "smoke" / "claims.json")
    assert [c["verdict"] for c in claims["claims"]] == [HOLDS, HOLDS]
    assert len(claims["runs"]) == 4 and claims["commands"][0].startswith(
        "python -m benign_lightning +experiment="
    )


@pytest.fixture(scope="module")
def smoke_all(tmp_path_factory, mnist_root) -> tuple[Path, subprocess.CompletedProcess]:
    """One ``reproduce all --scale smoke --in-process`` for the tests that read it (the suite's
    costliest run: 65 s in process against 164 s with a process per sweep, measured alone; the
    other tests here run the sweeps as their own processes)."""
    tmp_path = tmp_path_factory.mktemp("smoke_all")
    proc = _reproduce(
        "all", "--scale", "smoke", "--out", "repro", "--in-process", cwd=tmp_path, data_dir=mnist_root,
        timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp_path, proc


def test_all_at_smoke_scale_reports_every_figure(smoke_all, mnist_root):
    tmp_path, proc = smoke_all
    # Every sweep that ran finished every job into its folder (a one-job sweep once ran as a single
    # run into hydra.run.dir: its folder stayed empty and its claims read "not run").
    ran = re.findall(r"\[(\S+) smoke\] sweep '(\S+)': (\d+) of (\d+) jobs finished", proc.stdout)
    assert len(ran) >= 15 and all(done == total for *_, done, total in ran), ran
    assert ("memorization_at", "noisy", "1", "1") in ran  # that one-job sweep
    for entry in ENTRIES:
        folder = tmp_path / "repro" / entry.name / "smoke"
        for name in ("REPORT.md", "report.html", "claims.json", "summary.csv"):
            assert (folder / name).exists(), (entry.name, name)
        claims = read_json(folder / "claims.json")
        # Not on this machine: CIFAR and ImageNet (an entry whose smaller scales run on MNIST runs here).
        if "MNIST" not in entry.needs and any(d in entry.needs for d in ("CIFAR", "ImageNet")):
            # The data folder as the user sets it, not this machine's path (the reports are published).
            assert claims["not_run"] and "$BENIGN_DATA_DIR/" in claims["not_run"], claims["not_run"]
            assert str(mnist_root) not in claims["not_run"]
            assert all(c["verdict"].startswith("not run: ") for c in claims["claims"])
        else:
            assert claims["not_run"] is None and claims["runs"], entry.name
            kinds = (HOLDS, FAILS, NOT_RUN, NOT_JUDGED, TOO_FEW)  # "holds on k of n seeds" starts with holds
            assert all(c["verdict"].startswith(kinds) for c in claims["claims"]), claims["claims"]
    html = (tmp_path / "repro" / "fig2a" / "smoke" / "report.html").read_text()
    assert "data:image/png;base64," in html and "sigma2=0.5" in html


def test_with_wandb_the_report_is_an_artifact(tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline", "BENIGN_DATA_DIR": str(tmp_path)}
    argv = [sys.executable, "-m", "benign_lightning.reproduce", "thm2", "--scale", "smoke", "--out", "repro"]
    proc = subprocess.run([*argv, "logger=wandb"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = list((tmp_path / "repro" / "thm2" / "smoke" / "runs" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1
    record = runs[0].read_bytes()
    assert b"reproduction-thm2-smoke" in record and b"REPORT.md" in record and b"claims.json" in record
    assert b"checkpoints" not in record  # the run folders are not in it


def test_figures_1_and_4_from_figure_5s_runs_at_smoke_scale(smoke_all):
    """Figure 5's runs (toy-MNIST at smoke scale) through the step after them: the grid, the CSV, the
    pairs and their numbers; fig1 and fig4 run nothing of their own."""
    tmp_path, proc = smoke_all
    assert "[fig4 smoke] sweep 1/3 'mem': 1 jobs, 1 finished, 0 to run" in proc.stdout
    job = next((tmp_path / "repro" / "fig5" / "smoke" / "runs" / "mem").glob("*/rare_examples.json")).parent
    rows = (job / "figure1.csv").read_text().splitlines()
    assert rows[0].startswith("dataset_index,given_label,robust_pred,natural_pred") and len(rows) > 1
    shown = read_json(job / "rare_examples.json")["figure1"]
    assert shown["n_shown"] == len(rows) - 1 and shown["n_shown_robust_predicts_given"] == 0
    assert 0 < shown["n_memorized"] <= 24
    assert list((tmp_path / "repro" / "fig1" / "smoke").glob("*figure1.png"))
    assert list((tmp_path / "repro" / "fig4" / "smoke").glob("*figure4.png"))


def test_in_process_runs_only_single_process_sweeps():
    """A DDP sweep cannot be called in reproduce's process (Lightning re-runs the process's module for
    its other ranks): --in-process runs it as its own command."""
    sweep = THM2.sweeps["smoke"][0]
    assert one_process(sweep, [])
    assert not one_process(sweep, ["trainer=ddp_cpu"]) and not one_process(sweep, ["trainer.devices=2"])
