"""Input normalisation as a layer, so models take [0, 1] pixels and attacks work in pixel space."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Normalize(nn.Module):
    """(x − mean) / std per channel; an identity when mean and std are None."""

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> None:
        super().__init__()
        self.enabled = mean is not None and std is not None
        self.register_buffer("mean", torch.tensor(mean or [0.0]), persistent=False)
        self.register_buffer("std", torch.tensor(std or [1.0]), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        shape = (1, -1, *([1] * (x.dim() - 2)))  # per channel: dim 1 of images and of flat inputs
        return (x - self.mean.view(shape)) / self.std.view(shape)

    def extra_repr(self) -> str:
        return (
            f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}" if self.enabled else ""
        )
