"""MNIST through torchvision, held as uint8 tensors on the device."""

from __future__ import annotations

import os
from pathlib import Path

from benign_lightning.data.base import TensorDataModule
from benign_lightning.data.download import download_lock
from benign_lightning.data.noise import MNIST_PAIRS
from benign_lightning.errors import ConfigError

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def default_data_dir() -> str:
    """``$BENIGN_DATA_DIR``, or else ``./data``."""
    return os.environ.get("BENIGN_DATA_DIR", "./data")


class MNISTDataModule(TensorDataModule):
    """torchvision's MNIST (expects ``<data_dir>/MNIST/raw/``), label noise on the training split."""

    name = "mnist"
    num_classes = 10
    in_shape = (1, 28, 28)
    mean = (0.1307,)
    std = (0.3081,)
    pairs = MNIST_PAIRS

    def __init__(self, *, data_dir: str | None = None, download: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir or default_data_dir()).expanduser().resolve()
        self.download = bool(download)

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "MNIST" / "raw"

    def _missing(self) -> list[str]:
        return [
            f
            for f in MNIST_FILES
            if not (self.raw_dir / f).exists() and not (self.raw_dir / f"{f}.gz").exists()
        ]

    def check_available(self) -> None:
        missing = self._missing()
        if missing and not self.download:
            raise ConfigError(
                f"MNIST not found: expected the IDX files {', '.join(missing)} (or the same with .gz) in "
                f"{self.raw_dir}. Set data.data_dir=PATH (or the environment variable BENIGN_DATA_DIR) "
                "to the folder that holds MNIST/raw/, or pass data.download=true to let torchvision "
                "download it."
            )

    def prepare_data(self) -> None:
        from torchvision.datasets import MNIST
        from torchvision.datasets.utils import extract_archive

        self.check_available()
        with download_lock(self.data_dir):
            if self.download and self._missing():
                MNIST(self.data_dir, train=True, download=True)
                return
            # torchvision reads only unpacked files; unpack any that exist only as .gz (as shipped).
            for f in MNIST_FILES:
                if not (self.raw_dir / f).exists():
                    extract_archive(str(self.raw_dir / f"{f}.gz"), str(self.raw_dir))

    def load_arrays(self):
        from torchvision.datasets import MNIST

        train = MNIST(self.data_dir, train=True, download=False)
        test = MNIST(self.data_dir, train=False, download=False)
        return train.data.unsqueeze(1), train.targets, test.data.unsqueeze(1), test.targets
