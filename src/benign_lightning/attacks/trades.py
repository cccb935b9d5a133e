"""TRADES' inner maximisation (Zhang et al. 2019): find x_adv in the ε-ball that maximises
KL(f(x) ‖ f(x_adv)), starting from x + 0.001·N(0, 1).

It needs no labels: it pushes the prediction away from the model's own natural prediction. The
loop is PGD's (``pgd.ascend``) with the KL's logit direction in place of the cross-entropy's.
"""

from __future__ import annotations

import torch
from torch import nn

from benign_lightning.attacks.pgd import (
    Seed,
    ascend,
    attack_mode,
    check_budget,
    gaussian_like,
    kl_logit_direction,
    project,
    seeded_generator,
)

# TRADES' start: a tiny Gaussian perturbation, so that the KL's gradient at the start is not zero.
INIT_STD = 0.001


def trades_adversary(
    model: nn.Module,
    x: torch.Tensor,
    *,
    eps: float,
    steps: int,
    step_size: float,
    norm: str = "linf",
    seed: Seed = None,
    clamp: tuple[float, float] | None = (0.0, 1.0),
    bn_eval: bool = True,
) -> torch.Tensor:
    """Return x_adv (detached) maximising KL(softmax(f(x)) ‖ softmax(f(x_adv))) by PGD."""
    check_budget(eps=eps, steps=steps, step_size=step_size, norm=norm)
    x = x.detach()
    if eps == 0 or steps == 0:
        return x.clone()
    generator = seeded_generator(seed, x.device)
    noise = gaussian_like(x, generator)
    start = project(x + INIT_STD * noise, x, eps, norm, clamp)
    with attack_mode(model, bn_eval):
        with torch.no_grad():
            p_natural = torch.softmax(model(x).double(), dim=1)
        with torch.enable_grad():
            x_adv = ascend(
                model, x, p_natural, start=start, direction=kl_logit_direction,
                eps=eps, steps=steps, step_size=step_size, norm=norm, clamp=clamp,
            )  # fmt: skip
    return x_adv.detach()
