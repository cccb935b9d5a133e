"""Attacks: pure functions of (model, x, y) in pixel space. They know nothing of Lightning."""

from benign_lightning.attacks.pgd import NORMS, eval_mode, pgd, project

__all__ = ["NORMS", "eval_mode", "pgd", "project"]
