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
        shape = (1, -1, 1, 1)
        self.register_buffer("mean", torch.tensor(mean or [0.0]).view(shape), persistent=False)
        self.register_buffer("std", torch.tensor(std or [1.0]).view(shape), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std if self.enabled else x

    def extra_repr(self) -> str:
        return (
            f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}" if self.enabled else ""
        )
