"""scripts/gpu_check.sh --dry-run on the CPU: every command of the GPU check composes and its values
validate, each step says ok and nothing is written under bench/gpu/; a bad override fails the dry run
and is named. The report and results readers of scripts/gpu_check.py, on files written here."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import REPO

# the GPU check's steps, and the dry run's own check of the benign_lightning commands' values
STEPS = ("cuda_tests", "ddp_tensor", "ddp_dataloader", "ddp_syncbn", "tf32_eval", "speed_fast", "gpu_bench")
DRY_RUN_STEPS = (*STEPS, "config_values", "report")


def dry_run(*steps: str, extra: str = "") -> subprocess.CompletedProcess:
    """``bash scripts/gpu_check.sh --dry-run [steps]`` from the repository root, with this Python."""
    env = {**os.environ, "PYTHON": sys.executable, "GPU_CHECK_EXTRA": extra}
    return subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--dry-run", *steps],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def bench_gpu_state() -> dict[str, int]:
    """Every file under bench/gpu/ and its modification time (empty when the folder is absent)."""
    root = REPO / "bench" / "gpu"
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*")} if root.exists() else {}


def test_dry_run_checks_every_step_and_writes_nothing():
    before = bench_gpu_state()
    done = dry_run()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for step in DRY_RUN_STEPS:
        assert re.search(rf"^{step}: ok\b", done.stdout, re.M), (step, done.stdout[-3000:])
    # each benign_lightning command is composed (--cfg job) and its values checked in one process
    assert done.stdout.count("--cfg job") == 4 and "4 commands checked" in done.stdout
    assert "gpu_check: all ok" in done.stdout
    assert bench_gpu_state() == before


def test_dry_run_names_a_bad_override_and_fails():
    before = bench_gpu_state()
    done = dry_run("ddp_tensor", extra="trainer.nonexistent_key=1")
    assert done.returncode != 0
    for step in ("ddp_tensor", "config_values"):  # --cfg job refuses it, and so does check_command_line
        assert re.search(rf"^{step}: FAILED", done.stdout, re.M), (step, done.stdout[-3000:])
    # check_command_line's message, shown from the step's log
    assert "the config has no key trainer.nonexistent_key" in done.stdout
    assert bench_gpu_state() == before


@pytest.fixture(scope="module")
def gpu_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_results_and_report(gpu_check, tmp_path: Path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(json.dumps({"status": "complete", "world_size": 2, "adv_err": 0.25}))
    assert gpu_check.main(["run-results", str(run), "--world-size", "2"]) == 0
    assert gpu_check.main(["run-results", str(run), "--world-size", "1"]) == 1  # not the expected world
    assert "expected world_size=1" in capsys.readouterr().out
    assert gpu_check.main(["run-results", str(tmp_path / "absent"), "--world-size", "1"]) == 1

    details = tmp_path / "tf32.json"
    details.write_text(json.dumps({"n_points": 2000}))
    steps = tmp_path / "steps.tsv"
    steps.write_text(
        "ddp_tensor\tok\t31.5\tpython -m benign_lightning a=1\tstatus=complete world_size=2 adv_err=0.25\t\n"
        f"tf32_eval\tFAILED\t12.0\tpython scripts/gpu_check.py tf32\tn=2000; a|b=3\t{details}\n"
    )
    out = tmp_path / "out"
    device = ["--device", "NVIDIA H100 80GB HBM3", "--gpus", "1"]
    assert gpu_check.main(["report", str(steps), "--out-dir", str(out), *device]) == 0
    report = json.loads((out / "nvidia_h100_80gb_hbm3.json").read_text())
    assert report["ok"] is False and report["device"] == "NVIDIA H100 80GB HBM3" and report["torch"]
    ddp, tf32 = report["steps"]
    assert ddp["values"] == {"status": "complete", "world_size": 2, "adv_err": 0.25} and ddp["wall_s"] == 31.5
    assert tf32["status"] == "FAILED" and tf32["details"] == {"n_points": 2000}
    md = (out / "nvidia_h100_80gb_hbm3.md").read_text()
    assert "| ddp_tensor | `python -m benign_lightning a=1` | ok | 31.5 |" in md
    assert "a\\|b=3" in md and "torch " in md  # a pipe in a cell is escaped


def test_bench_summary(gpu_check, tmp_path: Path, capsys):
    bench = tmp_path / "bench.json"
    ratios = {"plain/fast": 3.1, "fp32/bare": 1.05}
    workloads = {"resnet18_natural": {"ways": {"fast": {"epoch_s": 2.5}}, "ratios": ratios}}
    bench.write_text(json.dumps({"workloads": workloads, "same_accuracy": {"holds": False}}))
    assert gpu_check.main(["bench-summary", str(bench)]) == 0  # recorded, not failed
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line == (
        "gpu_check figures: resnet18_natural: fast 2.50 s/epoch plain/fast=3.10x fp32/bare=1.05x;"
        " same_accuracy=False"
    )
