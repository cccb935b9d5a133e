"""Image files decoded by a pool of threads for every evaluation pass give exactly the serial result."""

from __future__ import annotations

import torch
from conftest import make_imagenet_tree

from benign_lightning.data.image_files import ImageFiles
from benign_lightning.data.imagenet import _eval_transform


def test_threaded_decoding_equals_serial_decoding(tmp_path):
    make_imagenet_tree(tmp_path, ["n01", "n02", "n03"], n_train=4, n_val=1)
    paths = sorted(str(p) for p in tmp_path.glob("train/*/*.JPEG"))
    serial = ImageFiles(paths, _eval_transform(), workers=0)
    threaded = ImageFiles(paths, _eval_transform(), workers=3)
    assert torch.equal(serial.load(), threaded.load())
    rows = torch.tensor([5, 0, 7])
    assert threaded[rows].workers == 3 and torch.equal(threaded[rows].load(), serial[rows].load())  # in order
