"""One run per folder: an exclusive lock on the run folder for as long as a run works in it.

The lock is ``<run_dir>/.run.lock``, held with ``flock``: the kernel releases it when its process
ends, however it ends, so a lock left by a killed run is never in the way (its file still names the
dead holder, and the next run says it takes over). The file holds the holder's host and pid, which
is what a second process on the same folder reports. ``filelock`` is not used because its lock
files carry no holder to report.

Only the process of global rank 0 takes it: the other DDP ranks of the same run (Lightning's
re-launched children, torchrun's or SLURM's tasks) work in the same folder by design.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

from benign_lightning.errors import ConfigError

LOCK_NAME = ".run.lock"
log = logging.getLogger(__name__)

# Folders this process holds, so that a nested take (the CLI, then ``run``) is a no-op.
_held: dict[Path, int] = {}


def launch_rank() -> int:
    """This process's global rank as its launcher set it (0 when nothing launched ranks)."""
    for key in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if os.environ.get(key, "").isdigit():
            # Under SLURM only the job's tasks count: SLURM_PROCID of a one-task job is 0.
            return int(os.environ[key])
    return 0


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


class RunFolderLock:
    """``with RunFolderLock(run_dir):`` holds ``run_dir`` for this process, or raises a ConfigError
    naming the process that holds it."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir).resolve() / LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> RunFolderLock:
        if launch_rank() != 0 or self.path in _held:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _holder(self.path)
            raise ConfigError(
                f"run folder {self.path.parent} is in use by pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}; wait for it, or give this run another hydra.run.dir"
            ) from None
        previous = _holder(self.path)
        if previous.get("pid"):
            log.warning(
                "taking over run folder %s from pid %s on %s, which no longer holds it (it ended "
                "without releasing the lock)", self.path.parent, previous["pid"], previous.get("host"),
            )  # fmt: skip
        record = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        self.fd = fd
        _held[self.path] = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is None:
            return
        os.ftruncate(self.fd, 0)  # an empty file: released cleanly, nothing to take over
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        _held.pop(self.path, None)
        self.fd = None
