"""What a cluster does to a run that a laptop does not, simulated on this machine: filesystems
without ``flock``, read-only dataset folders, interactive SLURM allocations, SLURM steps of the
wrong size, two nodes (torchrun's rendezvous and sbatch's variables on 127.0.0.1), and ranks that
see the run folder differently. ``../shared/ENVIRONMENT.md`` says how each is simulated."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import QUIET, make_idx_mnist, read_json, run_cli

from benign_lightning.data import MNISTDataModule
from benign_lightning.data.mnist import MNIST_FILES
from benign_lightning.plumbing.errors import ConfigError
from benign_lightning.run import lock as run_lock
from benign_lightning.run.lock import HELD_NAME, LOCK_NAME, RunFolderLock, launch_rank
from benign_lightning.run.loggers import keep_earlier_csv

TOY = [*QUIET, "data.n_train=300", "data.n_test=50", "attack.steps=2", "trainer.min_epochs=null",
       "logger=none", "trainer.max_epochs=1"]  # fmt: skip
# Python's start-up runs this sitecustomize.py: flock answers as NFS without lockd does.
NO_FLOCK_HOOK = (
    "import errno, fcntl\n"
    "def _flock(fd, op):\n"
    "    raise OSError(errno.ENOLCK, 'No locks available')\n"
    "fcntl.flock = _flock\n"
)


def _no_flock(monkeypatch, code: int = errno.ENOLCK) -> None:
    def refuse(fd, op):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(run_lock.fcntl, "flock", refuse)


# --- the run folder's lock where flock is not supported -----------------------------------------
def test_a_run_on_a_filesystem_without_flock_locks_with_a_lock_file(tmp_path):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(NO_FLOCK_HOOK)
    proc = run_cli(*TOY, "hydra.run.dir=r", cwd=tmp_path, env={"PYTHONPATH": str(hook)}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = proc.stdout + proc.stderr
    assert "this filesystem does not support flock (No locks available); locked with the lock file" in said
    assert read_json(tmp_path / "r" / "results.json")["status"] == "complete"
    assert not (tmp_path / "r" / HELD_NAME).exists()  # released


@pytest.mark.parametrize("code", [errno.ENOLCK, errno.ENOSYS], ids=["nfs_without_lockd", "lustre_no_flock"])
def test_the_lock_file_refuses_a_live_holder_and_takes_over_a_dead_one(tmp_path, monkeypatch, code):
    _no_flock(monkeypatch, code)
    folder = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time, errno, fcntl\n"
         "fcntl.flock = lambda fd, op: (_ for _ in ()).throw(OSError(errno.ENOLCK, 'no locks'))\n"
         "from benign_lightning.run.lock import RunFolderLock\n"
         f"with RunFolderLock({str(folder)!r}):\n"
         "    print('held', flush=True); time.sleep(600)\n"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=f"is in use by pid {holder.pid} on {socket.gethostname()}"):
            RunFolderLock(folder).__enter__()
        holder.send_signal(signal.SIGKILL)  # killed: its lock file stays behind, its pid is gone
        holder.wait()
        assert (folder / HELD_NAME).exists()
        with RunFolderLock(folder) as lock:
            assert lock.kind == "lock file"
            assert json.loads((folder / HELD_NAME).read_text())["pid"] == os.getpid()
        assert not (folder / HELD_NAME).exists()
    finally:
        holder.kill()


def test_a_lock_file_of_another_node_is_stale_only_without_a_heartbeat(tmp_path, monkeypatch):
    _no_flock(monkeypatch)
    folder = tmp_path / "run"
    folder.mkdir()
    held = folder / HELD_NAME
    held.write_text(json.dumps({"host": "node-17", "pid": 4242}))  # a process this host cannot see
    with pytest.raises(ConfigError, match="in use by pid 4242 on node-17"):
        RunFolderLock(folder).__enter__()
    old = time.time() - run_lock.STALE_AFTER_S - 5
    os.utime(held, (old, old))  # node-17 stopped beating
    with RunFolderLock(folder) as lock:
        assert lock.kind == "lock file"


def test_the_heartbeat_keeps_a_long_run_s_lock_fresh(tmp_path, monkeypatch):
    _no_flock(monkeypatch)
    monkeypatch.setattr(run_lock, "HEARTBEAT_S", 0.05)
    folder = tmp_path / "run"
    with RunFolderLock(folder):
        held = folder / HELD_NAME
        old = time.time() - 1000
        os.utime(held, (old, old))
        time.sleep(0.5)
        assert time.time() - held.stat().st_mtime < 5


def test_a_flock_holder_honours_a_fresh_lock_file(tmp_path):
    """A node whose filesystem has flock does not take a folder held through the lock file by a
    node whose filesystem has not."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / HELD_NAME).write_text(json.dumps({"host": "node-3", "pid": 99}))
    with pytest.raises(ConfigError, match="in use by pid 99 on node-3"):
        RunFolderLock(folder).__enter__()
    assert (folder / LOCK_NAME).read_text() == ""  # flock released again


# --- a read-only dataset folder --------------------------------------------------------------
@pytest.fixture
def read_only(monkeypatch):
    """``read_only(folder)``: every write under ``folder`` fails as on a read-only mount (EROFS),
    and is recorded (as root, chmod does not stop this process)."""
    attempts: list[str] = []
    folders: list[str] = []
    real_open, real_mkdir = os.open, os.mkdir

    def inside(path) -> bool:
        return any(os.path.abspath(path).startswith(f) for f in folders)

    def refuse(path):
        attempts.append(str(path))
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    def os_open(path, flags, *args, **kwargs):
        if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            refuse(path)
        return real_open(path, flags, *args, **kwargs)

    def os_mkdir(path, *args, **kwargs):
        if inside(path) and not os.path.isdir(path):
            refuse(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(os, "mkdir", os_mkdir)
    return lambda folder: folders.append(os.path.abspath(folder)) or attempts


def test_a_read_only_dataset_folder_is_read_without_a_lock_or_a_write(tmp_path, read_only):
    root = make_idx_mnist(tmp_path / "shared", n_train=40, n_test=20, gz=False)  # unpacked, as shared
    attempts = read_only(root)
    data = MNISTDataModule(data_dir=str(root), eta=0.2)
    data.prepare_data()
    data.setup()
    assert len(data.train) == 40 and attempts == []  # no lock file, no checksum cache, nothing
    assert {p.name for p in (root / "MNIST" / "raw").iterdir()} == set(MNIST_FILES)


def test_a_read_only_folder_that_must_be_unpacked_says_so(tmp_path, read_only):
    root = make_idx_mnist(tmp_path / "shared", n_train=40, n_test=20, gz=True)  # only the .gz files
    read_only(root)
    with pytest.raises(ConfigError) as refused:
        MNISTDataModule(data_dir=str(root)).prepare_data()
    message = str(refused.value)
    assert f"data.data_dir={root} cannot be written (Read-only file system)" in message
    assert "unpack train-images-idx3-ubyte.gz" in message and "(gunzip -k them there)" in message
    assert "set data.data_dir (or BENIGN_DATA_DIR)" in message


# --- rank identity ------------------------------------------------------------------------------
CLEAN = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_JOB_NAME")


@pytest.mark.parametrize(
    "env,rank",
    [
        ({}, 0),
        ({"SLURM_PROCID": "0", "LOCAL_RANK": "2"}, 2),  # srun --pty bash: Lightning's child rank 2
        ({"SLURM_PROCID": "0"}, 0),  # ... and its launching process
        ({"SLURM_PROCID": "1"}, 1),  # sbatch: task 1 of the step
        ({"RANK": "3", "LOCAL_RANK": "1", "SLURM_PROCID": "0"}, 3),  # torchrun
        ({"NODE_RANK": "1"}, 1),  # Lightning's launcher on node 1: not global rank 0
        ({"LOCAL_RANK": "0", "GROUP_RANK": "1"}, 1),
        # a 2-node sbatch script exporting LOCAL_RANK=$SLURM_LOCALID: SLURM's task 1 is rank 1
        ({"SLURM_PROCID": "1", "LOCAL_RANK": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NAME": "train"}, 1),
    ],
)  # fmt: skip
def test_launch_rank_reads_the_rank_as_lightning_does(monkeypatch, env, rank):
    for key in CLEAN:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert launch_rank() == rank


SBATCH_TASK_1 = {"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "SLURM_JOB_NAME": "train"}


@pytest.mark.parametrize("env,moved", [({}, True), ({"NODE_RANK": "1"}, False), (SBATCH_TASK_1, False)])
def test_a_resumed_runs_csv_is_moved_aside_by_rank_zero_alone(tmp_path, monkeypatch, env, moved):
    """Node 1's first process (Lightning's launcher, or a script exporting LOCAL_RANK=0) is not rank
    0: it must not race rank 0 to move the shared folder's metrics.csv."""
    for key in CLEAN:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LOCAL_RANK", "0")
    (tmp_path / "metrics.csv").write_text("epoch\n0\n")
    assert (keep_earlier_csv(tmp_path) is not None) is moved
    assert (tmp_path / "metrics.session1.csv").exists() is moved
    assert (tmp_path / "metrics.csv").exists() is not moved


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_") and k not in CLEAN}
    return {**env, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra}


def test_ddp_inside_an_interactive_allocation_runs_its_ranks(tmp_path):
    """``srun --pty bash`` then ``trainer=ddp_cpu``: every process inherits SLURM_PROCID=0 and
    SLURM_JOB_NAME=bash; Lightning starts rank 1 itself. Rank 1 once took itself for rank 0, tried
    to take the folder's lock and stopped."""
    env = _env(SLURM_JOB_ID="77", SLURM_JOB_NAME="bash", SLURM_PROCID="0", SLURM_NTASKS="1",
               SLURM_NNODES="1", SLURM_LOCALID="0", SLURM_NODEID="0", SLURM_NODELIST="localhost")  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "benign_lightning", *TOY, "trainer=ddp_cpu", "hydra.run.dir=r"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "is in use by pid" not in proc.stderr
    assert read_json(tmp_path / "r" / "results.json")["world_size"] == 2


@pytest.mark.parametrize(
    "slurm,message",
    [
        # sbatch's script itself (no srun): one process, where Lightning would wait for a second
        ({"SLURM_NTASKS": "2"}, "but this SLURM batch script is one process"),
        # srun with one task per node, trainer.devices=2
        ({"SLURM_NTASKS": "1", "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "1"}, "runs 1 task"),
    ],
)  # fmt: skip
def test_a_slurm_step_of_another_size_than_the_run_is_refused_before_anything_is_written(
    tmp_path, main_in_process, monkeypatch, slurm, message
):
    for key, value in {"SLURM_JOB_ID": "78", "SLURM_JOB_NAME": "train", "SLURM_PROCID": "0", **slurm}.items():
        monkeypatch.setenv(key, value)
    code, _, stderr = main_in_process(*TOY, "trainer=ddp_cpu", "hydra.run.dir=r")
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1, stderr[-3000:]
    assert "trainer.devices=2 x trainer.num_nodes=1 = 2 processes" in errors[0] and message in errors[0]
    assert "hydra/launcher=slurm" in errors[0]
    assert "srun --kill-on-bad-exit=1 --nodes=1 --ntasks-per-node=2" in errors[0]
    written = {p.name for p in (tmp_path / "r").iterdir()} - {"__main__.log"}  # (Hydra's own, empty)
    assert written == set()  # no lock, no .hydra record, no results


def test_torchrun_inside_a_slurm_job_is_accepted(tmp_path, main_in_process, monkeypatch):
    """``srun --ntasks-per-node=1 torchrun --nproc-per-node=2 ...``: one SLURM task, two ranks that
    torchrun starts; Lightning takes the ranks from torchrun (TorchElastic before SLURM), and so does
    the check. The composed config is enough to see it: the run is not started."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from benign_lightning.run.slurm import check_slurm_step

    env = {"SLURM_JOB_ID": "80", "SLURM_JOB_NAME": "train", "SLURM_PROCID": "0", "SLURM_NTASKS": "1",
           "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "1"}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="benign_lightning.conf", version_base="1.3"):
        cfg = compose(config_name="config", overrides=["trainer=ddp_cpu"])
    GlobalHydra.instance().clear()
    with pytest.raises(ConfigError, match="this SLURM step runs 1 task"):
        check_slurm_step(cfg)
    torchrun = {"TORCHELASTIC_RUN_ID": "x", "RANK": "0", "LOCAL_RANK": "0", "GROUP_RANK": "0",
                "LOCAL_WORLD_SIZE": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": "29500"}  # fmt: skip
    for key, value in torchrun.items():
        monkeypatch.setenv(key, value)  # what torchrun sets
    check_slurm_step(cfg)


def test_several_nodes_need_torchrun_or_slurm(tmp_path, main_in_process):
    code, _, stderr = main_in_process(*TOY, "trainer.accelerator=cpu", "trainer.strategy=ddp",
                                      "trainer.devices=1", "trainer.num_nodes=2",
                                      "hydra.run.dir=r")  # fmt: skip
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1
    assert "trainer.num_nodes=2: start the processes of every node" in errors[0]
    assert {p.name for p in (tmp_path / "r").iterdir()} - {"__main__.log"} == set()


def test_a_slurm_step_of_the_run_s_size_is_accepted(tmp_path, main_in_process, monkeypatch):
    slurm = {"SLURM_JOB_ID": "79", "SLURM_JOB_NAME": "train", "SLURM_PROCID": "0", "SLURM_NTASKS": "1",
             "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "1"}  # fmt: skip
    for key, value in slurm.items():
        monkeypatch.setenv(key, value)
    code, _, stderr = main_in_process(*TOY, "hydra.run.dir=r")
    assert code == 0, stderr[-3000:]


def _all_succeed(procs: list[subprocess.Popen], timeout: float = 300) -> list[str]:
    """The processes' outputs once they have ended, each with status 0 (killed after ``timeout``)."""
    try:
        outputs = [proc.communicate(timeout=timeout)[0] for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    assert [p.returncode for p in procs] == [0] * len(procs), "\n".join(o[-3000:] for o in outputs)
    return outputs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ONE_NODE = [*TOY, "trainer.accelerator=cpu", "data.n_train=400", "data.n_test=51", "eta=0.2"]
TWO_NODES = [*ONE_NODE, "trainer.strategy=ddp", "trainer.devices=1", "trainer.num_nodes=2"]


def _assert_one_run_of_two_ranks(run_dir: Path, outputs: list[str]) -> None:
    results = read_json(run_dir / "results.json")
    assert results["status"] == "complete" and results["world_size"] == 2
    assert len(set(results["noise_digest_by_rank"])) == 1 and len(results["noise_digest_by_rank"]) == 2
    assert results["eval_shards"] == [[0, 26], [26, 51]]
    assert sum(out.count("results: ") for out in outputs) == 1  # the summary once, from rank 0
    assert json.loads((run_dir / LOCK_NAME).read_text() or "{}") == {}  # taken (by rank 0) and released
    names = sorted(p.name for p in run_dir.iterdir())
    assert names.count("results.json") == 1 and "noise.npz" in names and "env.json" in names
    assert not [n for n in names if n.startswith("tmp") or n.endswith(".tmp")]


def _torchrun_two_nodes(tmp_path: Path, overrides: list[str], run_dir: Path, rdzv_id: str,
                        node_env=lambda node: _env()) -> list[str]:  # fmt: skip
    """Two "nodes" of one run through torchrun's rendezvous on 127.0.0.1; both must end with 0."""
    port = _free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", f"--node-rank={node}",
             "--nproc-per-node=1", "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}",
             f"--rdzv-id={rdzv_id}", "-m", "benign_lightning", *overrides, f"hydra.run.dir={run_dir}"],
            cwd=tmp_path, env=node_env(node), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        for node in (0, 1)
    ]
    return _all_succeed(procs)


def test_two_nodes_through_torchrun_rendezvous(tmp_path):
    outputs = _torchrun_two_nodes(tmp_path, TWO_NODES, tmp_path / "r", "two-nodes")
    _assert_one_run_of_two_ranks(tmp_path / "r", outputs)


def test_two_nodes_as_sbatch_starts_them(tmp_path):
    """Two processes with the variables of a 2-node, 2-task job (one task per node): Lightning's
    SLURM environment takes the ranks from them."""
    port = _free_port()
    procs = []
    for node in (0, 1):
        env = _env(SLURM_JOB_ID=str(port), SLURM_JOB_NAME="two_nodes", SLURM_NTASKS="2", SLURM_NNODES="2",
                   SLURM_NTASKS_PER_NODE="1", SLURM_PROCID=str(node), SLURM_LOCALID="0",
                   SLURM_NODEID=str(node), SLURM_NODELIST="localhost", SLURM_STEP_ID="0",
                   SLURM_STEP_NUM_TASKS="2", MASTER_PORT=str(port))  # fmt: skip
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "benign_lightning", *TWO_NODES, f"hydra.run.dir={tmp_path / 'r'}"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))  # fmt: skip
    _assert_one_run_of_two_ranks(tmp_path / "r", _all_succeed(procs))


# --- ranks that see the run folder differently ----------------------------------------------------
# Rank 1's view of the folder is stale: it does not see the checkpoints (an NFS client's attribute
# cache can lag behind another node's writes). Only Path.exists is fooled: opening the file still
# reads it, as close-to-open consistency gives.
STALE_VIEW_HOOK = (
    "import os, pathlib\n"
    "if os.environ.get('RANK', os.environ.get('LOCAL_RANK')) == '1':\n"
    "    _exists = pathlib.Path.exists\n"
    "    def exists(self, *args, **kwargs):\n"
    "        if self.name.startswith('last') and self.name.endswith('.ckpt'):\n"
    "            return False\n"
    "        return _exists(self, *args, **kwargs)\n"
    "    pathlib.Path.exists = exists\n"
)


def _stale_rank_one(tmp_path: Path) -> dict[str, str]:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(STALE_VIEW_HOOK)
    return {"PYTHONPATH": str(hook)}


def _assert_resumed_together(run_dir: Path) -> None:
    results = read_json(run_dir / "results.json")
    assert results["world_size"] == 2 and results["resumed"] is True
    assert results["start_epoch"] == 1 and results["epochs"] == 2  # both ranks went on from epoch 1


def test_ranks_resume_as_rank_zero_decides_under_lightnings_launcher(tmp_path, main_in_process):
    first = [*ONE_NODE, "hydra.run.dir=r"]
    code, _, stderr = main_in_process(*first)
    assert code == 0, stderr[-3000:]
    again = [o for o in first if not o.startswith("trainer.max_epochs")] + ["trainer.max_epochs=2"]
    proc = subprocess.run(
        [sys.executable, "-m", "benign_lightning", *again, "trainer=ddp_cpu"], cwd=tmp_path,
        env=_env(**_stale_rank_one(tmp_path)), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_resumed_together(tmp_path / "r")


def test_ranks_resume_as_rank_zero_decides_across_two_nodes(tmp_path, main_in_process):
    run_dir = tmp_path / "r"
    code, _, stderr = main_in_process(*ONE_NODE, f"hydra.run.dir={run_dir}")
    assert code == 0, stderr[-3000:]
    again = [o for o in TWO_NODES if not o.startswith("trainer.max_epochs")] + ["trainer.max_epochs=2"]
    stale = _stale_rank_one(tmp_path)
    _torchrun_two_nodes(tmp_path, again, run_dir, "stale", lambda node: _env(**stale) if node else _env())
    _assert_resumed_together(run_dir)


def _decide_on_two_ranks(rank: int, init_file: str, out_dir: str, fails: bool) -> None:
    """One of 2 gloo ranks asks rank 0's answer; rank 1's own ``decide`` would say otherwise."""
    from types import SimpleNamespace

    import torch.distributed as dist

    from benign_lightning.run.agree import rank_zero_decides

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)

    def broadcast(obj, src=0):
        box = [obj]
        dist.broadcast_object_list(box, src)
        return box[0]

    def decide():
        if fails:
            raise ConfigError("cannot resume: every checkpoint is damaged")
        return f"checkpoint seen by rank {rank}"

    trainer = SimpleNamespace(world_size=2, strategy=SimpleNamespace(broadcast=broadcast))
    try:
        outcome = rank_zero_decides(trainer, "resume", decide)
    except ConfigError as e:
        outcome = f"ConfigError: {e}"
    finally:
        dist.destroy_process_group()
    Path(out_dir, f"{rank}.txt").write_text(outcome)


@pytest.mark.parametrize("fails", [False, True], ids=["answer", "error"])
def test_every_rank_takes_rank_zeros_answer_or_its_error(tmp_path, fails):
    """Rank 0's answer reaches rank 1; rank 0's error (every checkpoint damaged) is raised on both,
    where rank 1 once waited in the broadcast for the process group's timeout."""
    import torch.multiprocessing as mp

    ranks = mp.spawn(_decide_on_two_ranks, args=(str(tmp_path / "init"), str(tmp_path), fails), nprocs=2,
                     join=False)  # fmt: skip
    deadline = time.monotonic() + 120  # a rank left waiting would wait 30 minutes: fail long before
    while not ranks.join(timeout=1):
        if time.monotonic() > deadline:
            for process in ranks.processes:
                process.kill()
            pytest.fail("a rank is still waiting for rank 0's answer")
    damaged = "ConfigError: cannot resume: every checkpoint is damaged"
    expected = damaged if fails else "checkpoint seen by rank 0"
    assert [(tmp_path / f"{r}.txt").read_text() for r in (0, 1)] == [expected, expected]


def test_two_processes_taking_over_one_stale_lock_file_do_not_both_hold_it(tmp_path, monkeypatch):
    """B judges the stale file stale; before B moves it aside, A has taken it over and created its
    own. B must not move A's fresh lock away: it puts it back and yields."""
    _no_flock(monkeypatch)
    folder = tmp_path / "run"
    folder.mkdir()
    held = folder / HELD_NAME
    held.write_text(json.dumps({"host": "gone-node", "pid": 1}))
    old = time.time() - run_lock.STALE_AFTER_S - 5
    os.utime(held, (old, old))
    fresh = {"host": "node-a", "pid": 4242, "token": "a"}
    rename = os.rename

    def a_gets_there_first(src, dst):
        if Path(src) == held and not Path(dst).exists() and "stale" in str(dst):
            held.unlink()  # A's takeover of the stale file, then A's exclusive create
            held.write_text(json.dumps(fresh))
        return rename(src, dst)

    monkeypatch.setattr(run_lock.os, "rename", a_gets_there_first)
    with pytest.raises(ConfigError, match="in use by pid 4242 on node-a"):
        RunFolderLock(folder).__enter__()
    assert json.loads(held.read_text()) == fresh  # A's lock is back in place
    assert not list(folder.glob(f"{HELD_NAME}.stale.*"))


def test_a_dead_pid_of_another_container_with_this_host_name_is_not_taken_for_dead(tmp_path, monkeypatch):
    _no_flock(monkeypatch)
    folder = tmp_path / "run"
    folder.mkdir()
    here = run_lock._machine()
    other = {"host": socket.gethostname(), "pid": 2**22 + 5, "boot_id": here["boot_id"], "pid_ns": "1"}
    (folder / HELD_NAME).write_text(json.dumps(other))  # fresh: its heartbeat decides, not its pid
    with pytest.raises(ConfigError, match=f"in use by pid {2**22 + 5}"):
        RunFolderLock(folder).__enter__()
    (folder / HELD_NAME).write_text(json.dumps({**other, "pid_ns": here["pid_ns"]}))  # this namespace: dead
    with RunFolderLock(folder) as lock:
        assert lock.kind == "lock file"


def test_a_run_whose_lock_file_was_taken_over_says_so_and_leaves_the_new_one(tmp_path, monkeypatch, caplog):
    _no_flock(monkeypatch)
    monkeypatch.setattr(run_lock, "HEARTBEAT_S", 0.05)
    folder = tmp_path / "run"
    with RunFolderLock(folder):
        (folder / HELD_NAME).write_text(json.dumps({"host": "node-b", "pid": 7, "token": "b"}))
        time.sleep(0.5)
    assert "was taken over by another process" in caplog.text
    assert json.loads((folder / HELD_NAME).read_text())["token"] == "b"  # not removed on release
