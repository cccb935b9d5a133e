"""``hydra/launcher=slurm`` on a real SLURM cluster (``scripts/local_slurm.sh start``; CI starts one).

Skipped when ``sinfo`` does not answer. The jobs run on this machine's CPUs: the launcher asks for
no GPU because ``trainer.accelerator=cpu``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import QUIET, read_json, run_cli


def _cluster_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0 and any(s in proc.stdout for s in ("idle", "mixed", "allocated"))


if not _cluster_answers():
    if os.environ.get("BENIGN_REQUIRE_SLURM") == "1":  # set by .ci/run, which starts the cluster
        raise RuntimeError("BENIGN_REQUIRE_SLURM=1 but no SLURM cluster answers sinfo")
    pytest.skip("no SLURM cluster answers sinfo (scripts/local_slurm.sh start)", allow_module_level=True)

# One CPU and 1 GB per task, so two jobs share this 2-core machine's node.
LAUNCH = [
    "hydra/launcher=slurm", "trainer.accelerator=cpu", "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_per_cpu=1G", "hydra.launcher.timeout_min=15", "logger=none",
]  # fmt: skip
SMALL = ["data.n_train=1000", "data.n_test=300", "attack.steps=5"]


def _jobs(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))


def test_two_job_sweep_through_the_launcher(tmp_path):
    proc = run_cli(
        "-m", *LAUNCH, *QUIET, *SMALL, "seed=0,1", "trainer.max_epochs=2", "trainer.min_epochs=null",
        "hydra.sweep.dir=sweep", cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    jobs = _jobs(tmp_path / "sweep")
    assert [j.name.split("_")[0] for j in jobs] == ["0", "1"]
    slurm_ids = set()
    for seed, job in enumerate(jobs):
        results = read_json(job / "results.json")
        assert results["status"] == "complete" and results["seed"] == seed and results["epochs"] == 2
        assert results["n_test"] == 300
        env = read_json(job / "env.json")
        assert env["torch_num_threads"] == 1  # hydra.launcher.cpus_per_task=1, not every core
        slurm = env["slurm"]
        assert slurm["array_task_id"] == str(seed)  # each job ran as its own task of one job array
        slurm_ids.add(slurm["array_job_id"])
    assert len(slurm_ids) == 1
    # submitit's logs of the array sit in the sweep folder
    assert list((tmp_path / "sweep" / ".submitit").glob("*/*_log.out"))


def test_ddp_job_runs_one_slurm_task_per_device(tmp_path):
    """trainer=ddp_cpu through the launcher: 2 SLURM tasks are the 2 ranks of one job, which makes
    one folder and evaluates each test point once. The progress bar stays on (it once deadlocked
    DDP, see callbacks/logging.py)."""
    proc = run_cli(
        "-m", *LAUNCH, *SMALL, "trainer=ddp_cpu", "trainer.max_epochs=2", "trainer.min_epochs=null",
        "hydra.sweep.dir=sweep", cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    (job,) = _jobs(tmp_path / "sweep")
    results = read_json(job / "results.json")
    assert results["world_size"] == 2 and results["n_test"] == 300
    assert results["eval_shards"] == [[0, 150], [150, 300]]
    assert len(set(results["noise_digest_by_rank"])) == 1
    assert read_json(job / "env.json")["slurm"]["ntasks"] == "2"


def test_a_rank_that_dies_ends_the_whole_step(tmp_path):
    """srun --kill-on-bad-exit=1 (the launcher's srun_args): when rank 1 of a 2-task job dies at
    start-up, SLURM ends rank 0 too, instead of leaving it in the rendezvous for the process group's
    30-minute timeout. (The launcher itself is not waited for: without accounting, which the local
    cluster lacks, submitit cannot tell that a job failed, and keeps polling.)"""
    hook = tmp_path / "hook"
    hook.mkdir()
    # Every Python process of the job's step runs this first; the task of rank 1 dies at once.
    (hook / "sitecustomize.py").write_text(
        "import os\n"
        "if os.environ.get('SUBMITIT_EXECUTOR') and os.environ.get('SLURM_PROCID') == '1':\n"
        "    os._exit(3)\n"
    )
    overrides = [*LAUNCH, *SMALL, "trainer=ddp_cpu", "trainer.max_epochs=1", "hydra.sweep.dir=sweep"]
    env = {**os.environ, "PYTHONPATH": str(hook)}
    launcher = subprocess.Popen([sys.executable, "-m", "benign_lightning", "-m", *overrides], cwd=tmp_path,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        job_id = _slurm_job_id(tmp_path / "sweep")
        job = _poll(lambda: _ended(job_id), 120, f"job {job_id} did not end")
    finally:
        launcher.kill()
        subprocess.run(["scancel", job_id] if "job_id" in locals() else ["true"], check=False)
    assert job["JobState"] == "FAILED", job
    hours, minutes, seconds = map(int, job["RunTime"].split(":"))
    assert hours == 0 and minutes == 0  # ended within a minute of rank 1's death
    script = (tmp_path / "sweep" / ".submitit" / job_id / f"{job_id}_submission.sh").read_text()
    assert "--kill-on-bad-exit=1" in script
    log = (tmp_path / "sweep" / ".submitit" / job_id / f"{job_id}_0_log.err").read_text()
    assert "task 1: Exited with exit code 3" in log and "task 0: Terminated" in log


def _ended(job_id: str) -> dict[str, str] | None:
    """``scontrol show job``'s fields once the job has ended, else None."""
    line = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True).stdout
    fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
    return fields if fields.get("JobState") in ("FAILED", "COMPLETED", "CANCELLED", "TIMEOUT") else None


def _queued() -> set[str]:
    return set(subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout.split())


def test_bad_job_is_reported_before_anything_is_queued(tmp_path):
    before = _queued()
    # Each value alone is fine (the command line's check passes it); one job's combination is not.
    proc = run_cli("-m", *LAUNCH, "early_stopping.enabled=false,true", "data.holdout=0.1,0",
                   "hydra.sweep.dir=sweep", cwd=tmp_path, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert "error: job '" in proc.stderr and "early_stopping.enabled=True data.holdout=0'" in proc.stderr
    assert "needs a held-out split" in proc.stderr
    assert not (tmp_path / "sweep" / ".submitit").exists()
    assert _queued() <= before  # nothing new (a previous test's job may have left meanwhile)


def test_job_sizes_slurm_cannot_allocate_are_refused(tmp_path, main_in_process):
    """trainer=ddp asks for all GPUs (devices=-1): SLURM needs a count. A sweep over
    trainer.devices would need jobs of different sizes in one array."""
    for overrides, message in [
        (["trainer=ddp", "trainer.sync_batchnorm=false"], "set trainer.devices=N"),  # (LAUNCH: on CPUs)
        (["trainer.devices=1,2"], "one sweep has one job size"),
        (["hydra.launcher.timeout_min=0"], "hydra.launcher.timeout_min=0: must be an integer >= 1"),
    ]:
        code, _, stderr = main_in_process("-m", *LAUNCH, *overrides, "hydra.sweep.dir=sweep")
        assert code == 2 and message in stderr, (overrides, stderr[-2000:])
    assert not (tmp_path / "sweep" / ".submitit").exists()


def test_a_submission_sbatch_refuses_is_one_error_with_the_key_to_set(tmp_path, main_in_process):
    """The local cluster has no GPUs, so without trainer.accelerator=cpu sbatch refuses the GPU
    request; it has no partition "nope" either."""
    gpu_launch = [o for o in LAUNCH if o != "trainer.accelerator=cpu"]
    for overrides, message, hint in [
        ([], "sbatch refused the sweep: Invalid generic resource (gres) specification",
         "set trainer.accelerator=cpu for a CPU job"),
        (["trainer.accelerator=cpu", "hydra.launcher.partition=nope"],
         "sbatch refused the sweep: invalid partition specified: nope", "Set hydra.launcher.partition="),
    ]:  # fmt: skip
        code, _, stderr = main_in_process("-m", *gpu_launch, *overrides, "hydra.sweep.dir=sweep")
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert code == 2 and len(errors) == 1 and "Traceback" not in stderr, stderr[-2000:]
        assert message in errors[0] and hint in errors[0]


def _poll(check, timeout: float, what: str):
    """``check()``'s first truthy value, tried every 0.2 s for ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} after {timeout} s")


def _wait_for(path_glob, root: Path, timeout: float) -> Path:
    return _poll(lambda: next(iter(root.glob(path_glob)), None), timeout, f"no {path_glob} under {root}")


def _slurm_job_id(sweep: Path) -> str:
    """The SLURM job id of the sweep's only job (submitit names its log folder by it)."""
    folder = _wait_for(".submitit/*/*_submitted.pkl", sweep, 60).parent
    return folder.name


def test_preempted_job_is_requeued_and_resumes_from_its_checkpoint(tmp_path):
    """Preemption as SLURM and submitit do it: SIGTERM, then submitit's USR2, whose handler
    requeues the job. The requeued job must continue from its own last.ckpt and finish."""
    epochs = 25
    overrides = [
        *LAUNCH, *QUIET, *SMALL, "data.n_train=4000", f"trainer.max_epochs={epochs}",
        f"trainer.min_epochs={epochs}", "hydra.sweep.dir=sweep",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    with open(tmp_path / "launcher.log", "w") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "benign_lightning", "-m", *overrides],
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        sweep = tmp_path / "sweep"
        ckpt = _wait_for("0_*/checkpoints/last.ckpt", sweep, 180)
        job_id = _slurm_job_id(sweep)
        for sig in ("TERM", "USR2"):  # what submitit's own SlurmJob._interrupt sends
            subprocess.run(["scancel", f"--signal={sig}", job_id], check=True)
            time.sleep(1)
        _wait_for_requeue(job_id)
        # slurmctld holds a requeued batch job back for 120 s; start it now.
        subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True)
        launcher.wait(timeout=300)
    finally:
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGINT)
            subprocess.run(["scancel", "--name=default"], check=False)
    log_text = (tmp_path / "launcher.log").read_text()
    assert launcher.returncode == 0, log_text[-4000:]

    run_dir = ckpt.parents[1]
    results = read_json(run_dir / "results.json")
    assert results["status"] == "complete" and results["epochs"] == epochs
    assert results["resumed"] is True and 1 <= results["start_epoch"] < epochs  # not from scratch
    assert read_json(run_dir / "env.json")["slurm"]["restart_count"] == "1"
    err = "".join(p.read_text() for p in (sweep / ".submitit").glob("*/*_log.err"))
    assert "this job is preempted" in err
    # The memorization record spans all epochs: the state came back with the checkpoint.
    memorization = np.load(run_dir / "memorization.npz")
    assert memorization["epochs"].tolist() == list(range(1, epochs + 1))


def _wait_for_requeue(job_id: str, timeout: float = 60) -> None:
    def requeued() -> bool:
        line = subprocess.run(
            ["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True
        ).stdout
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        return fields.get("JobState") == "PENDING" and int(fields.get("Restarts", 0)) >= 1

    _poll(requeued, timeout, f"job {job_id} was not requeued")
