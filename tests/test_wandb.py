"""The real W&B client, offline: the run's summary, config and ε table, and resume into the same run."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
from conftest import QUIET, read_json, run_cli

pytest.importorskip("wandb")
from wandb.proto import wandb_internal_pb2 as pb  # noqa: E402

BLOCK, HEADER = 32768, 7  # W&B's transaction log: LevelDB-style 32 KiB blocks, 7-byte record headers


def read_records(path: Path) -> list:
    """The protobuf records of an offline ``run-*.wandb`` file (FULL/FIRST/MIDDLE/LAST chunks)."""
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    records, pending, pos = [], b"", HEADER
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if length == 0 and kind == 0:  # block padding
            pos += left
            continue
        chunk, pos = data[pos + HEADER : pos + HEADER + length], pos + HEADER + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def offline_run(run_dir: Path) -> dict:
    (path,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    summary, config = {}, {}
    for record in read_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "summary":
            summary.update({item.key: json.loads(item.value_json) for item in record.summary.update})
        elif kind == "config":
            config.update({item.key: json.loads(item.value_json) for item in record.config.update})
        elif kind == "run":  # wandb.init's config comes with the run record
            run = record.run
            config.update({item.key: json.loads(item.value_json) for item in run.config.update})
    return {
        "summary": summary,
        "config": config,
        "id": run.run_id,
        "job_type": run.job_type,
        "tags": run.tags,
    }


def test_offline_run_summary_config_and_resume(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env["HOME"] = str(tmp_path)  # no ~/.netrc with a key: offline
    common = [
        "logger=wandb", *QUIET, "trainer.min_epochs=null", "data.n_train=300", "data.n_test=100",
        "attack.steps=3", "attack.eval_eps=[0.0,0.1]", "stop_at_zero_train_err=false",
        "hydra.run.dir=r",
    ]  # fmt: skip
    first = run_cli(*common, "trainer.max_epochs=1", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    run_dir = tmp_path / "r"
    results = read_json(run_dir / "results.json")
    logged = offline_run(run_dir)
    assert logged["summary"]["adv_err"] == results["adv_err"]
    assert logged["summary"]["adv_err_by_eps.0.1"] == results["adv_err_by_eps"]["0.1"]
    assert logged["config"]["optimizer.lr"] == 0.05 and logged["config"]["data.n_train"] == 300
    assert logged["job_type"] == "natural" and list(logged["tags"]) == ["default"]
    assert list(run_dir.glob("wandb/offline-run-*/files/media/table/adv_err_vs_eps*.table.json"))
    # The run's figures (figures=auto: on with W&B), as PNGs in the run folder and as W&B images.
    assert (run_dir / "figures" / "adv_err_vs_eps.png").stat().st_size > 1000
    assert (run_dir / "figures" / "memorization.png").stat().st_size > 1000
    images = [p.name for p in run_dir.glob("wandb/offline-run-*/files/media/images/figures/*.png")]
    for figure in ("adv_err_vs_eps", "memorization"):
        assert any(name.startswith(figure) for name in images), images
    run_id = (run_dir / "wandb_id").read_text()
    assert logged["id"] == run_id

    second = run_cli(*common, "trainer.max_epochs=2", cwd=tmp_path, env=env)  # resumes the folder
    assert second.returncode == 0, second.stderr[-3000:]
    assert read_json(run_dir / "results.json")["resumed"]
    assert (run_dir / "wandb_id").read_text() == run_id
    assert len(list(run_dir.glob(f"wandb/offline-run-*-{run_id}"))) == 2  # both parts of one run


def test_ensemble_members_are_separate_wandb_runs_with_their_seeds(tmp_path):
    """``ensemble.size=2`` with ``logger=wandb``: one offline W&B run per member folder, its config
    the member's (seed + k) and its summary the member's results.json."""
    proc = run_cli(*QUIET, "logger=wandb", "ensemble.size=2", "seed=4", "trainer.max_epochs=2",
                   "trainer.min_epochs=null", "data.n_train=128", "data.n_test=40", "attack=linf",
                   "attack.steps=2", "hydra.run.dir=job", cwd=tmp_path,
                   env={"WANDB_MODE": "offline", "WANDB_SILENT": "true"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = [offline_run(tmp_path / "job" / f"member_{k}") for k in range(2)]
    assert [r["config"]["seed"] for r in runs] == [4, 5] and runs[0]["id"] != runs[1]["id"]
    for k, r in enumerate(runs):
        results = read_json(tmp_path / "job" / f"member_{k}" / "results.json")
        assert r["summary"]["adv_err"] == results["adv_err"] and r["summary"]["seed"] == 4 + k
    assert not list((tmp_path / "job").glob("wandb"))  # the job itself makes no W&B run
