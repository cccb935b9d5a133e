"""scripts/gpu_bench.py --smoke: every workload runs the four ways on the CPU (the framework with
speed=fast and in fp32, the plain DataLoader loop and the bare loop), the table and JSON carry every
figure, and the ways reach the same accuracy on the small problem."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
from conftest import REPO


@pytest.fixture(scope="module")
def gpu_bench():
    spec = importlib.util.spec_from_file_location("gpu_bench", REPO / "scripts" / "gpu_bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_bench"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_smoke_runs_every_workload_four_ways_with_equal_accuracy(gpu_bench, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    figures = gpu_bench.main(["--smoke", "--json", str(tmp_path / "bench.json")])
    assert json.loads((tmp_path / "bench.json").read_text())["workloads"] == json.loads(
        json.dumps(figures["workloads"])
    )
    assert set(figures["workloads"]) == set(gpu_bench.WORKLOADS) and figures["device"] == "cpu"
    for name, w in figures["workloads"].items():
        assert set(w["ways"]) == set(gpu_bench.WAYS), name
        timed = 8 if name == gpu_bench.ACCURACY_WORKLOAD else 1  # --smoke: 1 epoch, the check 8
        for way, row in w["ways"].items():
            assert row["epoch_s"] > 0 and len(row["epoch_s_measured"]) == timed, (name, way)
            assert 0 <= row["test_acc"] <= 1
        assert set(w["ratios"]) == {"plain/fast", "fp32/bare"} and all(r > 0 for r in w["ratios"].values())
    assert all(r["eval_images_per_s"] > 0 for r in figures["workloads"]["resnet18_pgd20"]["ways"].values())
    # The small problem is learnt by every way, to the same accuracy.
    same = figures["same_accuracy"]
    assert same["holds"] and min(same["test_acc"].values()) > 0.9, same
    for name in gpu_bench.WORKLOADS:
        assert f"| {name} |" in figures["table"]


def test_bad_arguments_are_refused(gpu_bench):
    with pytest.raises(SystemExit):
        gpu_bench.main(["--fraction", "0"])
