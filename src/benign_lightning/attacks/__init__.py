"""Attacks: pure functions of (model, x, y) in pixel space. They know nothing of Lightning."""

from benign_lightning.attacks.pgd import NORMS, eval_mode, pgd, project
from benign_lightning.attacks.trades import trades_adversary

__all__ = ["NORMS", "eval_mode", "pgd", "project", "trades_adversary"]
