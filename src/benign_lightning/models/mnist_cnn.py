"""The MNIST CNN of Appendix D.1: convs of 32, 64, 128, 256 filters (kernels 3, 4, 3, 3), FC 1024."""

from __future__ import annotations

import torch
from torch import nn

from benign_lightning.models.normalize import Normalize


def mnist_cnn(num_classes: int, in_shape: tuple[int, int, int], *, mean=None, std=None) -> nn.Sequential:
    """App. D.1 gives filters and kernels only; the strides (1, 2, 1, 2) without pooling are ours."""
    channels = in_shape[0]
    features = nn.Sequential(
        Normalize(mean, std),
        nn.Conv2d(channels, 32, kernel_size=3),
        nn.ReLU(inplace=True),
        nn.Conv2d(32, 64, kernel_size=4, stride=2),
        nn.ReLU(inplace=True),
        nn.Conv2d(64, 128, kernel_size=3),
        nn.ReLU(inplace=True),
        nn.Conv2d(128, 256, kernel_size=3, stride=2),
        nn.ReLU(inplace=True),
        nn.Flatten(),
    )
    with torch.no_grad():
        flat = features(torch.zeros(1, *in_shape)).shape[1]
    return nn.Sequential(
        *features,
        nn.Linear(flat, 1024),
        nn.ReLU(inplace=True),
        nn.Linear(1024, num_classes),
    )
