"""One run per folder: an exclusive lock on the run folder for as long as a run works in it.

Two locks, the first that the filesystem supports:

- ``flock`` on ``<run_dir>/.run.lock``: the kernel releases it when its process ends, however it
  ends, so a lock left by a killed run is never in the way (its file still names the dead holder,
  and the next run says it takes over).
- Where ``flock`` is not supported (NFS without lockd: ``ENOLCK``; Lustre mounted without
  ``-o flock``: ``ENOSYS``), a **lock file** ``<run_dir>/.run.held``, created exclusively
  (``O_CREAT | O_EXCL``, atomic on NFS v3+ and Lustre) and holding the holder's host, pid and a
  token of its own. A thread touches it every ``HEARTBEAT_S`` seconds; a file untouched for
  ``STALE_AFTER_S`` seconds (its holder was killed, or its node died), or whose holder is a dead
  process of this host (same boot and PID namespace), is taken over. It is removed on release,
  only by the process whose token it holds.

Either way the holder's host and pid are what a second process on the same folder reports.
``filelock`` is not used because its lock files carry no holder to report.

Only the process of global rank 0 takes it: the other DDP ranks of the same run (Lightning's
re-launched children, torchrun's or SLURM's tasks) work in the same folder by design.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from benign_lightning.plumbing.errors import ConfigError

LOCK_NAME = ".run.lock"
HELD_NAME = ".run.held"  # the lock file of filesystems without flock
HEARTBEAT_S = 30.0
STALE_AFTER_S = 300.0  # ten heartbeats: generous, as clocks of the nodes of a cluster may differ
# flock's answers on a filesystem that does not support it.
NO_FLOCK = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL)
log = logging.getLogger(__name__)

# Folders this process holds, so that a nested take (the CLI, then ``run``) is a no-op.
_held: dict[Path, RunFolderLock] = {}


def launch_rank() -> int:
    """This process's global rank as its launcher set it, read as Lightning picks its environment:
    ``RANK`` (torchrun, or Lightning once it has started); in a SLURM batch job ``SLURM_PROCID``
    (SLURM's tasks are the ranks); else ``LOCAL_RANK`` (Lightning's own launcher starts ranks
    1..N-1 with it) on node ``NODE_RANK``/``GROUP_RANK``, then ``SLURM_PROCID``.

    Inside an interactive allocation (``srun --pty bash``, ``salloc``: job name ``bash`` or
    ``interactive``) every process inherits ``SLURM_PROCID=0`` while Lightning starts the other
    ranks itself, so there ``LOCAL_RANK`` decides. A process on node k > 0 is never rank 0 (its
    exact rank needs the node's process count, which only the launcher knows: 1 is returned)."""
    env = os.environ
    if env.get("RANK", "").isdigit():
        return int(env["RANK"])
    if _slurm_batch_job() and env.get("SLURM_PROCID", "").isdigit():
        return int(env["SLURM_PROCID"])  # whatever LOCAL_RANK a job script may have exported
    node = next((int(env[k]) for k in ("NODE_RANK", "GROUP_RANK") if env.get(k, "").isdigit()), 0)
    if env.get("LOCAL_RANK", "").isdigit() or node > 0:
        local = int(env.get("LOCAL_RANK", "0") or 0)
        return local if node == 0 else max(local, 1)
    if env.get("SLURM_PROCID", "").isdigit():
        return int(env["SLURM_PROCID"])
    return 0


def _slurm_batch_job() -> bool:
    """Does Lightning take its ranks from SLURM here (a batch job, not an interactive allocation)?"""
    from lightning_fabric.plugins.environments import SLURMEnvironment

    return SLURMEnvironment.detect()


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _in_use(folder: Path, holder: dict) -> ConfigError:
    return ConfigError(
        f"run folder {folder} is in use by pid {holder.get('pid', '?')} on {holder.get('host', '?')}; "
        "wait for it, or give this run another hydra.run.dir"
    )


def _machine() -> dict[str, str | None]:
    """What tells this machine and PID namespace apart from another with the same host name (two
    containers with ``--network host``): the kernel's boot id and the PID namespace's inode."""
    out: dict[str, str | None] = {"boot_id": None, "pid_ns": None}
    with contextlib.suppress(OSError):
        out["boot_id"] = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    with contextlib.suppress(OSError):
        out["pid_ns"] = str(os.stat("/proc/self/ns/pid").st_ino)
    return out


def _record(token: str | None = None) -> bytes:
    record = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time(), **_machine()}
    if token is not None:
        record["token"] = token
    return json.dumps(record).encode()


def _dead_here(holder: dict) -> bool:
    """Is the holder a process of this host, seen from this PID namespace, that no longer runs?"""
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False
    here = _machine()
    if any(holder.get(k) != here[k] or here[k] is None for k in here):
        return False  # another container or boot: its pid means nothing here (the heartbeat decides)
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    return False


class RunFolderLock:
    """``with RunFolderLock(run_dir):`` holds ``run_dir`` for this process, or raises a ConfigError
    naming the process that holds it. ``kind`` says which lock it took: ``flock``, ``lock file``, or
    None (not rank 0, or already held by this process)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.folder = Path(run_dir).resolve()
        self.path = self.folder / LOCK_NAME
        self.held_path = self.folder / HELD_NAME
        self.kind: str | None = None
        self._fd: int | None = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._token: str | None = None

    def __enter__(self) -> RunFolderLock:
        if launch_rank() != 0 or self.path in _held:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _in_use(self.folder, _holder(self.path)) from None
        except OSError as e:
            os.close(fd)
            if e.errno not in NO_FLOCK:
                raise
            self._take_lock_file(e)
        else:
            self._hold_flock(fd)
        _held[self.path] = self
        return self

    def _hold_flock(self, fd: int) -> None:
        # A holder through the lock file (a node of the same cluster without flock) is honoured too.
        held = _holder(self.held_path)
        if held and not self._stale(held):
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise _in_use(self.folder, held)
        previous = _holder(self.path)
        if previous.get("pid"):
            log.warning(
                "taking over run folder %s from pid %s on %s, which no longer holds it (it ended "
                "without releasing the lock)", self.folder, previous["pid"], previous.get("host"),
            )  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, _record(), 0)
        self._fd, self.kind = fd, "flock"

    def _stale(self, holder: dict) -> bool:
        """Has the lock file's holder stopped beating (or died on this host)?"""
        try:
            age = time.time() - self.held_path.stat().st_mtime
        except FileNotFoundError:
            return True
        return age > STALE_AFTER_S or _dead_here(holder)

    def _take_lock_file(self, why: OSError) -> None:
        self._token = uuid.uuid4().hex
        for _ in range(3):
            try:
                fd = os.open(self.held_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                self._take_over_stale()
                continue
            os.write(fd, _record(self._token))
            os.close(fd)
            break
        else:
            raise _in_use(self.folder, _holder(self.held_path))
        self.kind = "lock file"
        log.warning(
            "run folder %s: this filesystem does not support flock (%s); locked with the lock file %s "
            "instead (created exclusively, a heartbeat every %.0f s, taken over after %.0f s without one)",
            self.folder, os.strerror(why.errno), HELD_NAME, HEARTBEAT_S, STALE_AFTER_S,
        )  # fmt: skip
        self._heartbeat = threading.Thread(target=self._beat, name="run-lock-heartbeat", daemon=True)
        self._heartbeat.start()

    def _take_over_stale(self) -> None:
        """Remove a stale lock file so that the next exclusive create can succeed; a live holder is a
        ConfigError. Two processes may judge the same file stale: each renames aside what it judged
        (checked by its inode), and one that moved a fresh lock instead puts it back and yields."""
        try:
            inode, judged = self.held_path.stat().st_ino, self.held_path.read_bytes()
        except FileNotFoundError:
            return
        holder = _holder(self.held_path)
        if not self._stale(holder):
            raise _in_use(self.folder, holder)
        aside = self.held_path.with_name(f"{HELD_NAME}.stale.{socket.gethostname()}.{os.getpid()}")
        try:
            os.rename(self.held_path, aside)
        except FileNotFoundError:
            return  # another process took it over first
        # Not the file judged stale (a freed inode number may be reused: the contents say too)?
        if aside.stat().st_ino != inode or aside.read_bytes() != judged:  # a fresh lock: give it back
            with contextlib.suppress(FileExistsError):
                os.link(aside, self.held_path)
            aside.unlink()
            raise _in_use(self.folder, _holder(self.held_path))
        aside.unlink()
        log.warning(
            "taking over run folder %s from pid %s on %s, whose lock file is stale (no heartbeat for "
            "%.0f s, or the process is gone)", self.folder, holder.get("pid"), holder.get("host"),
            STALE_AFTER_S,
        )  # fmt: skip

    def _ours(self) -> bool:
        return _holder(self.held_path).get("token") == self._token

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            if not self._ours():  # taken over while this run still works in the folder
                log.error("run folder %s: this run's lock file %s was taken over by another process; "
                          "two runs may now write in the folder", self.folder, self.held_path)  # fmt: skip
                return
            with contextlib.suppress(OSError):
                os.utime(self.held_path)

    def __exit__(self, *exc) -> None:
        if self.kind is None:
            return
        if self.kind == "flock":
            os.ftruncate(self._fd, 0)  # an empty file: released cleanly, nothing to take over
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        else:
            self._stop.set()
            self._heartbeat.join(timeout=HEARTBEAT_S)  # a hung hard-mounted NFS must not hang the exit
            if self._ours():  # never another process's lock
                with contextlib.suppress(FileNotFoundError):
                    self.held_path.unlink()
        _held.pop(self.path, None)
        self.kind = None
