"""Robust training (§3.2): PGD adversarial training (Madry et al. 2018) and TRADES (Zhang et al.
2019). Both are natural training with another ``loss``; the attack settings are shared here.

The inner maximisation takes input gradients only (no parameter gradients are computed) and, by
default, runs the model in eval mode so BatchNorm neither normalises with nor updates batch
statistics of adversarial iterates (``bn_eval``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from benign_lightning.attacks import pgd, trades_adversary
from benign_lightning.attacks.pgd import check_budget
from benign_lightning.methods.natural import NaturalTraining
from benign_lightning.plumbing.errors import ConfigError


class RobustTraining(NaturalTraining):
    """Natural training plus the settings of the training-time attack."""

    def __init__(
        self,
        model: nn.Module,
        *,
        eps: float,
        norm: str,
        steps: int,
        step_size: float | None,
        bn_eval: bool,
        seed: int,
        clamp: tuple[float, float] | None,
        eps_warmup_epochs: float = 0,
        **natural: Any,
    ) -> None:
        # Madry et al.'s rule when no step size is given: 2.5·ε/steps, so the iterates can cross
        # the ball and back.
        self.step_size = 2.5 * eps / max(steps, 1) if step_size is None else step_size
        self.relative_step = step_size is None
        if eps_warmup_epochs < 0:
            raise ConfigError(f"train_attack.eps_warmup_epochs={eps_warmup_epochs}: must be >= 0")
        try:
            check_budget(eps=eps, steps=steps, step_size=self.step_size, norm=norm)
        except ValueError as e:
            raise ConfigError(f"method: {e}") from None
        super().__init__(model, **natural)

    def attack_seed(self, seed: int | None = None) -> int:
        """A seed per (run seed, step, rank): a resumed run draws the starts an uninterrupted one
        would have, and ranks draw different ones. ``seed``: another run's (an ensemble member's)."""
        seed = self.hparams.seed if seed is None else seed
        return (seed * 1_000_003 + self.global_step) * 1_009 + self.global_rank

    def eps_scale(self) -> float:
        """The share of ε the training attack uses now: 1, or during ``eps_warmup_epochs`` a linear
        ramp by optimizer step. Adversarial training at a large ε from the first step can settle on
        a constant prediction (the loss stuck at log K: toy-MNIST at ε = 64/255, MNIST at 0.3); a
        warm-up lets the network learn the clean task first, as is usual for AT at large ε."""
        warmup = float(self.hparams.get("eps_warmup_epochs", 0) or 0)
        if warmup == 0 or self._trainer is None:
            return 1.0
        steps_per_epoch = max(int(self.trainer.num_training_batches), 1)
        return min(1.0, (self.global_step + 1) / (warmup * steps_per_epoch))

    def attack_settings(self) -> dict[str, Any]:
        hp = self.hparams
        clamp = tuple(hp.clamp) if hp.clamp is not None else None
        scale = self.eps_scale()
        # A step relative to ε shrinks with it; an absolute one (e.g. 0.01) stays.
        step_size = self.step_size * scale if self.relative_step else self.step_size
        return dict(
            eps=hp.eps * scale, steps=hp.steps, step_size=step_size, norm=hp.norm,
            clamp=clamp, bn_eval=hp.bn_eval, seed=self.attack_seed(),
        )  # fmt: skip


class AdversarialTraining(RobustTraining):
    """PGD-AT: the cross-entropy on the PGD adversarial example (Madry et al. 2018).

    ``train/err`` is then the error on the adversarial examples."""

    method_name = "at"

    def __init__(self, model: nn.Module, *, random_start: bool, **robust: Any) -> None:
        super().__init__(model, **robust)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_adv = pgd(self.train_net, x, y, random_start=self.hparams.random_start, **self.attack_settings())
        logits = self.train_net(x_adv)
        return F.cross_entropy(logits, y, reduction="none"), logits


class Trades(RobustTraining):
    """TRADES: CE(f(x), y) + β·KL(f(x) ‖ f(x_adv)), batch-mean, with x_adv from ``trades_adversary``.

    As in the reference code, the KL's target is the natural softmax (not detached) and both terms
    are computed with the model in training mode. The paper's λ = 1/6 is β = 1/λ = 6.
    """

    method_name = "trades"

    def __init__(self, model: nn.Module, *, beta: float, **robust: Any) -> None:
        if beta < 0:
            raise ConfigError(f"method.beta must be >= 0, got {beta}")
        super().__init__(model, **robust)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_adv = trades_adversary(self.train_net, x, **self.attack_settings())
        logits = self.train_net(x)
        logits_adv = self.train_net(x_adv)
        # Per example: the KL summed over classes (its batch mean is the reference's "batchmean").
        kl = F.kl_div(F.log_softmax(logits_adv, 1), F.softmax(logits, 1), reduction="none").sum(1)
        return F.cross_entropy(logits, y, reduction="none") + self.hparams.beta * kl, logits
