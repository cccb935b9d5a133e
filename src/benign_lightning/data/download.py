"""Concurrent jobs (a sweep's array tasks, DDP ranks) must not download into one folder at once."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

LOCK_NAME = ".benign_lightning_download.lock"


@contextmanager
def download_lock(data_dir: str | Path, timeout: float = 3600):
    """Hold an inter-process lock on ``data_dir`` (a lock file in it) while downloading or unpacking;
    whoever comes second waits, then finds the files in place."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(data_dir / LOCK_NAME), timeout=timeout):
        yield
