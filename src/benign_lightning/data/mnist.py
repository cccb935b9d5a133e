"""MNIST through torchvision, held as uint8 tensors on the device."""

from __future__ import annotations

from pathlib import Path

from benign_lightning.data.download import DownloadableDataModule
from benign_lightning.data.noise import MNIST_PAIRS

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class MNISTDataModule(DownloadableDataModule):
    """torchvision's MNIST (expects ``<data_dir>/MNIST/raw/``), label noise on the training split."""

    name = "mnist"
    num_classes = 10
    in_shape = (1, 28, 28)
    mean = (0.1307,)
    std = (0.3081,)
    pairs = MNIST_PAIRS

    torchvision_name = "MNIST"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "MNIST" / "raw"

    def missing_files(self) -> list[str]:
        raw = self.files_dir
        return [f for f in MNIST_FILES if not (raw / f).exists() and not (raw / f"{f}.gz").exists()]

    def expected_files(self, missing: list[str]) -> str:
        return f"the IDX files {', '.join(missing)} (or the same with .gz)"

    def unpack(self) -> None:
        from torchvision.datasets.utils import extract_archive

        # torchvision reads only unpacked files; unpack any that exist only as .gz (as shipped).
        for f in MNIST_FILES:
            if not (self.files_dir / f).exists():
                extract_archive(str(self.files_dir / f"{f}.gz"), str(self.files_dir))

    def load_arrays(self):
        from torchvision.datasets import MNIST

        train = MNIST(self.data_dir, train=True, download=False)
        test = MNIST(self.data_dir, train=False, download=False)
        return train.data.unsqueeze(1), train.targets, test.data.unsqueeze(1), test.targets
