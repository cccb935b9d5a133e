"""Datasets read from ``data_dir`` that torchvision can download, and the lock that keeps concurrent
jobs (a sweep's array tasks, DDP ranks) from downloading into one folder at once."""

from __future__ import annotations

import os
from abc import abstractmethod
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from benign_lightning.data.base import LabelNoiseDataModule
from benign_lightning.data.files import compare_checksums
from benign_lightning.errors import ConfigError

LOCK_NAME = ".benign_lightning_download.lock"


def default_data_dir() -> str:
    """``$BENIGN_DATA_DIR``, or else ``./data``."""
    return os.environ.get("BENIGN_DATA_DIR", "./data")


@contextmanager
def download_lock(data_dir: str | Path, timeout: float = 3600):
    """Hold an inter-process lock on ``data_dir`` (a lock file in it) while downloading or unpacking;
    whoever comes second waits, then finds the files in place."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(data_dir / LOCK_NAME), timeout=timeout):
        yield


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
        with download_lock(self.data_dir):
            if self.download and self.missing_files():
                import torchvision.datasets

                dataset = getattr(torchvision.datasets, self.torchvision_name)
                dataset(str(self.data_dir), train=True, download=True)  # fetches and checks md5
            self.unpack()
            self.file_report = compare_checksums(self.files_dir, self.checksums(), self.name.upper())

    def unpack(self) -> None:
        """Make the files readable after they are in place (under the download lock)."""

    def checksums(self) -> dict[str, str]:
        """The md5 sum of each original file, by name in ``files_dir`` (empty: none known)."""
        return {}
