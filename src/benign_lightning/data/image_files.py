"""Image files that stand in for an image tensor, for datasets too large to hold in memory.

``ImageFiles`` indexes like a tensor of images, but an index selects *files* (another
``ImageFiles``), so subsets, label noise and held-out rows work on it exactly as on tensors; the
images are decoded only when ``load`` is called (by ``to_unit_interval`` for every evaluation pass:
predictions, the attacks over the ε grid, the held-out split), by a pool of ``workers`` threads, or
one by one by ``ImageFileDataset`` in DataLoader workers for training.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch.utils.data import Dataset

Transform = Callable[[torch.Tensor], torch.Tensor]


def decode_rgb(path: str) -> torch.Tensor:
    """A JPEG/PNG file as a uint8 3×H×W tensor (grayscale and CMYK files converted to RGB)."""
    from torchvision.io import ImageReadMode, decode_image, read_file

    return decode_image(read_file(path), mode=ImageReadMode.RGB)


@functools.cache
def _decoders(workers: int) -> ThreadPoolExecutor:
    """One pool of decoding threads per size, kept for the process (evaluation decodes batch after
    batch: a pool started per batch, or DataLoader workers per batch, would cost more than it saves)."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode")


class ImageFiles:
    """Paths of images plus the transform that gives each its evaluation-time form. ``workers``
    threads decode them in parallel (JPEG decoding and the resize run in torch ops, which release
    the GIL); 0 or 1 decodes one by one."""

    def __init__(self, paths, transform: Transform, workers: int = 0) -> None:
        self.paths = np.asarray(paths, dtype=str)
        self.transform = transform
        self.workers = int(workers)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index) -> ImageFiles:
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        return ImageFiles(self.paths[index], self.transform, self.workers)

    def to(self, device) -> ImageFiles:  # files stay on the host; batches move when decoded
        return self

    def raw(self, i: int) -> torch.Tensor:
        return decode_rgb(self.paths[i])

    def _decoded(self, i: int) -> torch.Tensor:
        return self.transform(self.raw(i))

    def load(self) -> torch.Tensor:
        """Decode and transform every image, in order: a uint8 N×3×H×W tensor."""
        if self.workers > 1 and len(self) > 1:
            return torch.stack(list(_decoders(self.workers).map(self._decoded, range(len(self)))))
        return torch.stack([self._decoded(i) for i in range(len(self))])


class ImageFileDataset(Dataset):
    """``(x in [0, 1], y, index)`` per file, decoded and transformed in the worker."""

    def __init__(self, files: ImageFiles, y: torch.Tensor, transform: Transform) -> None:
        self.files, self.y, self.transform = files, y, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        return self.transform(self.files.raw(i)).float().div_(255), self.y[i], i
