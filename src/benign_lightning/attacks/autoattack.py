"""AutoAttack (Croce & Hein 2020) through the official attacks as packaged on the registry
(``pyautoattack``), with the same call shape as ``pgd``: ``autoattack(model, x, y, eps=...) -> x_adv``.

Not torchattacks' re-implementation, whose APGD runs 10 iterations instead of the standard 100.
The package is the optional extra ``benign_lightning[autoattack]`` (the dev extras include it).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from benign_lightning.attacks.pgd import eval_mode

VERSIONS = ("standard", "plus", "rand")
STANDARD_ATTACKS = ["apgd-ce", "apgd-t", "fab-t", "square"]
# APGD-T's targeted DLR loss needs at least 4 classes (it reads the 3rd and 4th largest logits);
# with fewer, the standard version's attacks become their untargeted forms (FAB) or are dropped.
FEW_CLASSES_ATTACKS = ["apgd-ce", "fab", "square"]


def attacks_run(version: str, n_classes: int) -> list[str]:
    """The attacks AutoAttack runs for ``version`` on a model of ``n_classes`` classes."""
    if version == "standard":
        return STANDARD_ATTACKS if n_classes >= 4 else FEW_CLASSES_ATTACKS
    if version == "plus":
        return ["apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t"]
    return ["apgd-ce", "apgd-dlr"]  # rand
_NORMS = {"linf": "Linf", "l2": "L2"}


class AutoAttackMissing(ImportError):
    """pyautoattack is not installed."""


def _package():
    try:
        import pyautoattack
    except ImportError:
        raise AutoAttackMissing(
            'the pyautoattack package is not installed: pip install "benign_lightning[autoattack]"'
        ) from None
    return pyautoattack


def check_available() -> None:
    """Raise ``AutoAttackMissing`` (with the install command) if the package is not there."""
    _package()


def autoattack(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    norm: str = "linf",
    version: str = "standard",
    seed: int | None = 0,
    batch_size: int = 250,
) -> torch.Tensor:
    """AutoAttack's adversarial examples for ``(x, y)`` (pixel space [0, 1]); points it does not
    break are returned unchanged. The model runs in eval mode and in fp32."""
    if norm not in _NORMS:
        raise ValueError(f"norm={norm!r}: AutoAttack takes one of {', '.join(_NORMS)}")
    if version not in VERSIONS:
        raise ValueError(f"version={version!r} is unknown; choose one of {', '.join(VERSIONS)}")
    if eps == 0 or len(x) == 0:
        return x.detach().clone()
    package = _package()
    logging.getLogger("auto-attack").setLevel(logging.WARNING)  # its per-attack progress lines
    with eval_mode(model), torch.autocast(x.device.type, enabled=False):
        with torch.no_grad():
            n_classes = model(x[:1].float()).shape[1]
        attacks = attacks_run(version, n_classes)
        custom = attacks != STANDARD_ATTACKS or version != "standard"
        adversary = package.AutoAttack(
            model, eps=float(eps), norm=_NORMS[norm], seed=seed, device=x.device,
            **({"version": "custom", "attacks": attacks} if custom and version == "standard" else
               {"version": version}),
        )  # fmt: skip
        # The targeted attacks try the 9 most likely other classes; a model with fewer has n - 1.
        for part in (adversary.apgd_targeted, adversary.fab):
            part.n_target_classes = min(part.n_target_classes, n_classes - 1)
        x_adv, _ = adversary.run_standard_evaluation(x.detach().float(), y.detach(), batch_size=batch_size)
    return x_adv.detach()
