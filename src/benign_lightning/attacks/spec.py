"""The evaluation attack as one value: which attack (PGD or AutoAttack), its settings, the step it
takes at each ε, and the record of what ran (``results.json["attack"]``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from benign_lightning.attacks.autoattack import attacks_run, autoattack
from benign_lightning.attacks.pgd import BlockSeeds, Seed, pgd

ATTACKS = ("pgd", "autoattack")
# Madry et al.'s rule: a step of 2.5·ε/steps, so every iterate can cross its ball and come back.
MADRY_REL_STEP = 2.5


PIXEL_RANGE = (0.0, 1.0)


@dataclass(frozen=True)
class AttackSpec:
    """An evaluation attack. ``step_size`` is absolute (the paper's presets: 0.01 at every ε);
    with ``step_size=None`` each ε gets ``rel_step_size · ε`` (``None``: 2.5 / steps)."""

    name: str
    norm: str
    steps: int | None = None
    step_size: float | None = None
    rel_step_size: float | None = None
    random_start: bool = False
    restarts: int = 1
    loss: str = "ce"
    early_stop: bool = True
    clamp: tuple[float, float] | None = PIXEL_RANGE
    version: str = "standard"  # AutoAttack only
    batch_size: int = 1000

    def __post_init__(self) -> None:
        if self.name not in ATTACKS:
            raise ValueError(f"attack.name={self.name!r} is unknown; choose one of {', '.join(ATTACKS)}")
        if self.name == "autoattack" and self.clamp != PIXEL_RANGE:
            raise ValueError(
                f"attack.name=autoattack with attack.clamp={self.clamp}: AutoAttack works in pixel space "
                "[0, 1] only (unclipped toy-MNIST has no box: use attack=linf_strong, or data.clip=true)"
            )

    @classmethod
    def from_config(cls, attack: dict[str, Any]) -> AttackSpec:
        """The spec from the ``attack`` config group (its evaluation-only keys are left out)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in attack.items() if k in fields}
        if kwargs.get("clamp") is not None:
            kwargs["clamp"] = tuple(kwargs["clamp"])
        return cls(**kwargs)

    def step_for(self, eps: float) -> float:
        """The PGD step at budget ``eps``."""
        if self.step_size is not None:
            return float(self.step_size)
        rel = self.rel_step_size if self.rel_step_size is not None else MADRY_REL_STEP / self.steps
        return float(rel) * float(eps)

    def reach(self, eps: float) -> float:
        """How far ``steps`` steps can go from the start (ℓ∞: per coordinate)."""
        return self.steps * self.step_for(eps)

    def replace(self, **changes: Any) -> AttackSpec:
        return dataclasses.replace(self, **changes)

    def __call__(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, seed: Seed
    ) -> torch.Tensor:
        """Adversarial examples for ``(x, y)`` at budget ``eps`` (fp32, whatever the training used)."""
        with torch.autocast(x.device.type, enabled=False):
            if self.name == "autoattack":
                if isinstance(seed, BlockSeeds):  # evaluate.evaluate_members runs it member by member
                    raise ValueError("AutoAttack attacks one model at a time, not an ensemble's rows")
                return autoattack(model, x, y, eps=eps, norm=self.norm, version=self.version, seed=seed,
                                  batch_size=self.batch_size)  # fmt: skip
            return pgd(
                model, x, y, eps=eps, steps=self.steps, step_size=self.step_for(eps), norm=self.norm,
                random_start=self.random_start, restarts=self.restarts, early_stop=self.early_stop,
                seed=seed, clamp=self.clamp, loss=self.loss,
            )  # fmt: skip

    def describe(self, n_classes: int | None = None) -> dict[str, Any]:
        """What ran, for ``results.json["attack"]`` and the figures' captions."""
        if self.name == "autoattack":
            out = {"name": "autoattack", "norm": self.norm, "version": self.version}
            out["package"] = "pyautoattack"
            if n_classes is not None:
                out["attacks"] = attacks_run(self.version, n_classes)
            return out
        if self.step_size is not None:
            step = {"step_size": self.step_size}
        else:
            step = {"rel_step_size": self.step_for(1.0)}
        return {
            "name": "pgd", "norm": self.norm, "steps": self.steps, **step, "random_start": self.random_start,
            "restarts": self.restarts, "loss": self.loss, "early_stop": self.early_stop,
        }  # fmt: skip
