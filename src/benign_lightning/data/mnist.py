"""MNIST through torchvision, held as uint8 tensors on the device."""

from __future__ import annotations

import math
import struct
from pathlib import Path

from benign_lightning.data.download import DownloadableDataModule
from benign_lightning.data.files import damaged, gunzip
from benign_lightning.data.noise import MNIST_PAIRS

# The unpacked IDX files and the md5 sums of the originals (computed from the real MNIST; the
# torchvision mirror's sums are of the .gz archives, which differ when re-gzipped).
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
MNIST_FILES = tuple(MNIST_MD5)


def check_idx(path: Path) -> None:
    """An IDX file of unsigned bytes (magic 0x0000 0x08 ndim, big-endian sizes) whose length
    matches its header; anything else is a ConfigError naming the file."""
    with open(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4 or head[:3] != b"\x00\x00\x08" or not 1 <= head[3] <= 3:
            raise damaged(path, "not an IDX file of unsigned bytes")
        dims = f.read(4 * head[3])
    if len(dims) < 4 * head[3]:
        raise damaged(path, "truncated header")
    shape = struct.unpack(f">{head[3]}I", dims)
    expected = 4 + 4 * head[3] + math.prod(shape)
    size = path.stat().st_size
    if size != expected:
        raise damaged(path, f"{size} bytes where its header {list(shape)} says {expected}")


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

    def packed_files(self) -> list[str]:
        # torchvision reads only unpacked files: those that exist only as .gz (as shipped).
        return [f"{f}.gz" for f in MNIST_FILES if not (self.files_dir / f).exists()]

    def unpack(self) -> None:
        for packed in self.packed_files():
            gunzip(self.files_dir / packed, self.files_dir / packed.removesuffix(".gz"))

    def checksums(self) -> dict[str, str]:
        return MNIST_MD5

    def load_arrays(self):
        from torchvision.datasets import MNIST

        for f in MNIST_FILES:
            check_idx(self.files_dir / f)

        train = MNIST(self.data_dir, train=True, download=False)
        test = MNIST(self.data_dir, train=False, download=False)
        return train.data.unsqueeze(1), train.targets, test.data.unsqueeze(1), test.targets


class MNIST01DataModule(MNISTDataModule):
    """MNIST's digits 0 and 1 (classes 0 and 1), each image average-pooled by ``downsample`` and kept
    in [0, 1]: the real-data study of Wang, Zhang and Arora (2024) (n = 100 training images, no label
    noise; ``downsample`` is ours: their network is a two-layer net on the flattened image, and 2×2
    pooling to 14×14 keeps the digits legible at a quarter of the input size)."""

    name = "mnist01"
    num_classes = 2
    pairs = None
    mean = std = None  # the two-layer net takes the pixels as they are

    def __init__(self, *, downsample: int = 2, **kwargs) -> None:
        if int(downsample) < 1 or 28 % int(downsample):
            from benign_lightning.plumbing.errors import ConfigError

            raise ConfigError(f"data.downsample={downsample}: a divisor of 28 (1, 2, 4, 7, 14)")
        self.downsample = int(downsample)
        self.in_shape = (1, 28 // self.downsample, 28 // self.downsample)
        super().__init__(**kwargs)

    def load_arrays(self):
        import torch.nn.functional as F

        x_train, y_train, x_test, y_test = super().load_arrays()

        def zeros_and_ones(x, y):
            keep = y <= 1
            x = F.avg_pool2d(x[keep].float().div(255), self.downsample)
            return x, y[keep]

        return (*zeros_and_ones(x_train, y_train), *zeros_and_ones(x_test, y_test))
