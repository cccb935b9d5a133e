"""Datasets read from ``data_dir`` that torchvision can download, and the lock that keeps concurrent
jobs (a sweep's array tasks, DDP ranks) from downloading into one folder at once.

Nothing is written in ``data_dir``, and no lock taken there, unless something has to be
downloaded or unpacked: on clusters the dataset folder is often a shared, read-only copy.
"""

from __future__ import annotations

import errno
import os
from abc import abstractmethod
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, SoftFileLock

from benign_lightning.data.base import LabelNoiseDataModule
from benign_lightning.data.files import compare_checksums
from benign_lightning.plumbing.errors import ConfigError

LOCK_NAME = ".benign_lightning_download.lock"
# flock's answers where the filesystem does not support it (NFS without lockd, Lustre without flock).
_NO_FLOCK = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP)


def default_data_dir() -> str:
    """``$BENIGN_DATA_DIR``, or else ``./data``."""
    return os.environ.get("BENIGN_DATA_DIR", "./data")


@contextmanager
def download_lock(data_dir: str | Path, timeout: float = 3600, why: str = "download or unpack files"):
    """Hold an inter-process lock on ``data_dir`` (a lock file in it) while downloading or unpacking;
    whoever comes second waits, then finds the files in place. A folder that cannot be written is a
    ConfigError saying what had to be written (``why``); where ``flock`` is not supported the lock is
    filelock's exclusively created file instead."""
    data_dir = Path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(data_dir / LOCK_NAME), timeout=timeout)
        try:
            lock.acquire()
        except NotImplementedError:  # filelock's answer to ENOSYS
            lock = SoftFileLock(str(data_dir / LOCK_NAME), timeout=timeout)
            lock.acquire()
        except OSError as e:
            if e.errno not in _NO_FLOCK:
                raise
            lock = SoftFileLock(str(data_dir / LOCK_NAME), timeout=timeout)
            lock.acquire()
    except OSError as e:
        if e.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        raise ConfigError(
            f"data.data_dir={data_dir} cannot be written ({os.strerror(e.errno)}), and this run must "
            f"{why} there. Do it once where the folder can be written, or copy the dataset to a "
            "writable folder and set data.data_dir (or BENIGN_DATA_DIR) to it"
        ) from None
    try:
        yield
    finally:
        lock.release()


class DownloadableDataModule(LabelNoiseDataModule):
    """A dataset of files under ``data_dir`` that torchvision's ``torchvision_name`` class can
    download. Subclasses say which files are missing and how the expected ones look."""

    torchvision_name: str

    def __init__(self, *, data_dir: str | None = None, download: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir or default_data_dir()).expanduser().resolve()
        self.download = bool(download)

    @property
    @abstractmethod
    def files_dir(self) -> Path:
        """The folder that holds the dataset's files."""

    @abstractmethod
    def missing_files(self) -> list[str]:
        """The expected files not found in ``files_dir``."""

    def expected_files(self, missing: list[str]) -> str:
        """How the missing files are described in the error message."""
        return f"the files {', '.join(missing)}"

    def check_available(self) -> None:
        missing = self.missing_files()
        if missing and not self.download:
            raise ConfigError(
                f"{self.name.upper()} not found: expected {self.expected_files(missing)} in "
                f"{self.files_dir}. Set data.data_dir=PATH (or the environment variable BENIGN_DATA_DIR) "
                f"to the folder that holds {self.files_dir.relative_to(self.data_dir)}/, or pass "
                "data.download=true to let torchvision download it."
            )

    def prepare_data(self) -> None:
        self.check_available()
        fetch = self.download and bool(self.missing_files())
        packed = self.packed_files()
        if fetch or packed:  # only then is anything written in data_dir
            why = f"download {self.name.upper()} (data.download=true)" if fetch else (
                f"unpack {', '.join(packed)} (gunzip -k them there)")  # fmt: skip
            with download_lock(self.data_dir, why=why):
                if self.download and self.missing_files():
                    import torchvision.datasets

                    dataset = getattr(torchvision.datasets, self.torchvision_name)
                    dataset(str(self.data_dir), train=True, download=True)  # fetches and checks md5
                self.unpack()
        self.file_report = compare_checksums(self.files_dir, self.checksums(), self.name.upper())

    def packed_files(self) -> list[str]:
        """The files that must be unpacked before the dataset can be read (none by default)."""
        return []

    def unpack(self) -> None:
        """Make the files readable after they are in place (under the download lock)."""

    def checksums(self) -> dict[str, str]:
        """The md5 sum of each original file, by name in ``files_dir`` (empty: none known)."""
        return {}
