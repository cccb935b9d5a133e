"""The fully connected net of toy-MNIST (§3.1): four hidden ReLU layers, then the classifier."""

from __future__ import annotations

import math

from torch import nn

from benign_lightning.models.normalize import Normalize


def mlp(
    num_classes: int,
    in_shape: tuple[int, int, int],
    *,
    mean=None,
    std=None,
    width: int = 512,
    depth: int = 4,
) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units (width 512 is ours; the paper does not say)."""
    layers: list[nn.Module] = [Normalize(mean, std), nn.Flatten()]
    fan_in = math.prod(in_shape)
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.ReLU(inplace=True)]
        fan_in = width
    layers.append(nn.Linear(fan_in, num_classes))
    return nn.Sequential(*layers)
