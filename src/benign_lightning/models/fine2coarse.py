"""Fine2Coarse (App. C.3): a network trained on fine labels, read out on coarse ones.

A coarse logit is the **sum** of the fine logits of its fine classes. The sum is one linear layer,
so the model stays differentiable end to end and PGD and adversarial training apply to the coarse
output unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class SumToCoarse(nn.Module):
    """``forward(x)`` gives coarse logits; ``fine_logits(x)`` the fine ones it sums."""

    def __init__(self, fine_net: nn.Module, coarse_of_fine: Sequence[int]) -> None:
        super().__init__()
        self.fine_net = fine_net
        coarse_of_fine = torch.as_tensor(list(coarse_of_fine))
        n_fine, n_coarse = len(coarse_of_fine), int(coarse_of_fine.max()) + 1
        # membership[c, f] = 1 if fine class f belongs to coarse class c
        membership = torch.zeros(n_coarse, n_fine)
        membership[coarse_of_fine, torch.arange(n_fine)] = 1.0
        self.register_buffer("membership", membership, persistent=False)

    def fine_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.fine_net(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fine_logits(x) @ self.membership.t()
