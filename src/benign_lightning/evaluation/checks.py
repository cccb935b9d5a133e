"""Sanity checks after evaluation (Carlini et al. 2019, *On Evaluating Adversarial Robustness*, §5;
AutoAttack's own ``checks``): signs that an adversarial error is an underestimate.

Each check gives ``{"check", "passed", "detail"}`` for ``results.json["eval_checks"]``; a failed one
is also printed as a warning. ``attack.checks``: ``cheap`` (the default) runs the first four, which
cost at most one extra attack on a few hundred points; ``full`` adds a second, independent attack
(AutoAttack for PGD, PGD for AutoAttack) on the same points; ``none`` runs none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from benign_lightning.attacks import eval_mode
from benign_lightning.attacks.pgd import LOSSES
from benign_lightning.attacks.spec import PIXEL_RANGE, AttackSpec

log = logging.getLogger(__name__)

CHECK_LEVELS = ("none", "cheap", "full")
# A budget at which any working attack breaks almost every point (ℓ∞ 0.5 reaches the mid-grey
# image from any input; ℓ2 4.0 is far beyond any robust model's radius on these datasets).
LARGE_EPS = {"linf": 0.5, "l2": 4.0}
LARGE_EPS_MIN_ERR = 0.95
ZERO_GRAD_MAX_FRACTION = 0.1
ATTACKS_MAX_GAP = 0.01
CHECK_POINTS = 500  # test points the attack-based checks use

# (eps, attack) -> adversarial error on the check points
AttackError = Callable[[float, AttackSpec], float]


def _result(name: str, passed: bool, detail: str) -> dict[str, Any]:
    if not passed:
        log.warning("evaluation check %s failed: %s", name, detail)
    return {"check": name, "passed": bool(passed), "detail": detail}


@torch.no_grad()
def deterministic(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """The eval-mode output must not change between two calls (else the attack chases noise)."""
    with eval_mode(model):
        same = torch.equal(model(x), model(x))
    return _result("eval_deterministic", same, "two eval-mode passes give the same logits" if same else
                   "two eval-mode passes give different logits: a randomised model needs attack=autoattack "
                   "with attack.version=rand (EOT)")  # fmt: skip


def input_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str) -> dict[str, Any]:
    """Few points may have an exactly zero input gradient of the attack's loss: many zeros are
    gradient masking (a rounding layer, a saturated softmax), and PGD then cannot move."""
    x = x.detach().clone().requires_grad_(True)
    with eval_mode(model), torch.enable_grad():
        logits = model(x)
        (grad,) = torch.autograd.grad(logits, x, grad_outputs=LOSSES[loss](logits.detach(), y))
    zero = float((grad.flatten(1).abs().amax(1) == 0).float().mean())
    return _result(
        "nonzero_input_gradients", zero <= ZERO_GRAD_MAX_FRACTION,
        f"{zero:.1%} of {len(x)} points have an all-zero input gradient "
        f"(at most {ZERO_GRAD_MAX_FRACTION:.0%})",
    )  # fmt: skip


def monotone(raw: dict[str, float]) -> dict[str, Any]:
    """Each ε attacked on its own must give an error that does not fall as ε grows."""
    curve = sorted((float(e), err) for e, err in raw.items())
    drops = [(a, b) for (a, ea), (b, eb) in zip(curve, curve[1:], strict=False) if eb < ea]
    detail = "the raw error rises with eps" if not drops else "the raw error falls from " + ", ".join(
        f"eps {a:g} to {b:g}" for a, b in drops
    ) + ": the attack is weak at the larger eps (more steps, restarts or a larger step)"
    return _result("raw_error_monotone", not drops, detail)


def large_eps(attack_error: AttackError, attack: AttackSpec, eps: float | None) -> dict[str, Any]:
    """At a budget where any input can be moved far, the error must be close to 1."""
    eps = LARGE_EPS[attack.norm] if eps is None else eps
    err = attack_error(eps, attack)
    return _result(
        "large_eps_error", err >= LARGE_EPS_MIN_ERR,
        f"adversarial error {err:.3f} at {attack.norm} eps {eps:g} (at least {LARGE_EPS_MIN_ERR} expected; "
        "less is a sign of gradient masking)",
    )  # fmt: skip


def second_attack(attack_error: AttackError, attack: AttackSpec, eps: float) -> dict[str, Any]:
    """PGD and AutoAttack on the same points must agree within 1 point of error."""
    if attack.name == "pgd" and attack.clamp == PIXEL_RANGE:
        other = AttackSpec(name="autoattack", norm=attack.norm, batch_size=attack.batch_size)
    else:
        # To check AutoAttack, or where AutoAttack cannot run (inputs outside [0, 1]: unclipped
        # toy-MNIST), the second attack is PGD-100 on the cross-entropy in the same box.
        other = AttackSpec(name="pgd", norm=attack.norm, steps=100, random_start=True, restarts=1,
                           loss="ce", clamp=attack.clamp, batch_size=attack.batch_size)  # fmt: skip
    mine, theirs = attack_error(eps, attack), attack_error(eps, other)
    return _result(
        "pgd_vs_autoattack", abs(mine - theirs) <= ATTACKS_MAX_GAP,
        f"{attack.name} {mine:.3f}, {other.name} {theirs:.3f} at eps {eps:g} on the check points "
        f"(at most {ATTACKS_MAX_GAP} apart)",
    )  # fmt: skip


def run_checks(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    attack: AttackSpec,
    attack_error: AttackError,
    eps: float,
    raw: dict[str, float] | None,
    level: str,
    large: float | None = None,
) -> list[dict[str, Any]]:
    """The checks of ``level`` on the check points ``(x, y)``; ``attack_error`` attacks them."""
    if level == "none" or len(x) == 0:
        return []
    loss = attack.loss if attack.name == "pgd" else "ce"
    results = [deterministic(model, x), input_gradients(model, x, y, loss)]
    if raw:
        results.append(monotone(raw))
    results.append(large_eps(attack_error, attack, large))
    if level == "full" and eps > 0:
        results.append(second_attack(attack_error, attack, eps))
    return results
