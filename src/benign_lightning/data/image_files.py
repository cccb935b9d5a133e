"""Image files that stand in for an image tensor, for datasets too large to hold in memory.

``ImageFiles`` indexes like a tensor of images, but an index selects *files* (another
``ImageFiles``), so subsets, label noise and held-out rows work on it exactly as on tensors; the
images are decoded only when ``load`` is called (by ``to_unit_interval`` for evaluation) or one by
one by ``ImageFileDataset`` in DataLoader workers for training.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

Transform = Callable[[torch.Tensor], torch.Tensor]


def decode_rgb(path: str) -> torch.Tensor:
    """A JPEG/PNG file as a uint8 3×H×W tensor (grayscale and CMYK files converted to RGB)."""
    from torchvision.io import ImageReadMode, decode_image, read_file

    return decode_image(read_file(path), mode=ImageReadMode.RGB)


class ImageFiles:
    """Paths of images plus the transform that gives each its evaluation-time form."""

    def __init__(self, paths, transform: Transform) -> None:
        self.paths = np.asarray(paths, dtype=str)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index) -> ImageFiles:
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        return ImageFiles(self.paths[index], self.transform)

    def to(self, device) -> ImageFiles:  # files stay on the host; batches move when decoded
        return self

    def raw(self, i: int) -> torch.Tensor:
        return decode_rgb(self.paths[i])

    def load(self) -> torch.Tensor:
        """Decode and transform every image: a uint8 N×3×H×W tensor."""
        return torch.stack([self.transform(self.raw(i)) for i in range(len(self))])


class ImageFileDataset(Dataset):
    """``(x in [0, 1], y, index)`` per file, decoded and transformed in the worker."""

    def __init__(self, files: ImageFiles, y: torch.Tensor, transform: Transform) -> None:
        self.files, self.y, self.transform = files, y, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        return self.transform(self.files.raw(i)).float().div_(255), self.y[i], i
