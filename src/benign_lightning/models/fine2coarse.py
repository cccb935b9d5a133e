"""Fine2Coarse (App. C.3): a network trained on fine labels, read out on coarse ones, by one of the
two rules of the appendix:

- ``sum``: a coarse logit is the **sum** of the fine logits of its fine classes (CIFAR-100 and
  Restricted ImageNet: "aggregate the fine labels corresponding to a coarse label by summing up the
  logits"). One linear layer.
- ``max``: a coarse logit is the **largest** of its fine logits, so the coarse prediction is the
  group of the predicted fine class (the lattice of Figure 9a: "aggregate the results by reporting
  all αᵢs as 1 and all βᵢs as 0"). Summing instead can overrule the predicted ball: two balls of
  the other group with middling logits outvote it.

Both are differentiable almost everywhere, so PGD and adversarial training apply to the coarse
output unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

COARSE_RULES = ("sum", "max")


class SumToCoarse(nn.Module):
    """``forward(x)`` gives coarse logits (``rule``: ``sum`` or ``max`` of each coarse class's fine
    logits); ``fine_logits(x)`` the fine ones."""

    def __init__(self, fine_net: nn.Module, coarse_of_fine: Sequence[int], rule: str = "sum") -> None:
        super().__init__()
        if rule not in COARSE_RULES:
            raise ValueError(f"coarse_rule={rule!r}: choose one of {', '.join(COARSE_RULES)}")
        self.fine_net, self.rule = fine_net, rule
        coarse_of_fine = torch.as_tensor(list(coarse_of_fine))
        n_fine, n_coarse = len(coarse_of_fine), int(coarse_of_fine.max()) + 1
        # membership[c, f] = 1 if fine class f belongs to coarse class c
        membership = torch.zeros(n_coarse, n_fine)
        membership[coarse_of_fine, torch.arange(n_fine)] = 1.0
        self.register_buffer("membership", membership, persistent=False)

    def fine_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.fine_net(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine = self.fine_logits(x)
        if self.rule == "sum":
            return fine @ self.membership.t()
        outside = self.membership == 0  # (coarse, fine): the fine classes not in each coarse class
        return fine[:, None, :].masked_fill(outside, float("-inf")).amax(2)
