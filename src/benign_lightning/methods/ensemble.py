"""N members of one method trained side by side in one process (``ensemble.size=N``).

The members' weights are one ``models.ensemble.StackedModels``; a training batch holds every
member's own batch, ``(N, B, ...)``, and the method's ``loss`` runs on them as ``(N·B, ...)`` rows
(``MemberBlocks``), its attack too. The loss returned is the sum of the members' mean losses, so
member k's gradient is exactly the gradient of its own loss. SGD (momentum, weight decay), Adam
and AdamW update every parameter element by element from its own gradient and state, so one
optimizer over the stacked parameters trains each member as it would train alone
(``tests/test_ensemble.py`` checks it against single runs). A member that has reached its stop
(§3.1's zero training error) is frozen: its weights are put back after every later step.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from benign_lightning.attacks.pgd import BlockSeeds
from benign_lightning.methods.natural import NaturalTraining
from benign_lightning.methods.robust import AdversarialTraining, Trades
from benign_lightning.models.ensemble import MemberBlocks, StackedModels
from benign_lightning.plumbing.errors import TrainingDiverged


class EnsembleMixin:
    """What an ensemble changes in a method: member batches, one seed per member, per-member losses
    and stops. ``member_seeds[k]`` is the seed of the single run member k stands for."""

    def __init__(self, model: StackedModels, *, member_seeds: list[int], **method: Any) -> None:
        super().__init__(model, **method)
        self.member_seeds = [int(s) for s in member_seeds]
        n = len(self.member_seeds)
        self.train_loss_by_epoch: list[list[float]] = [[] for _ in range(n)]
        self.stopped = torch.zeros(n, dtype=torch.bool)  # members whose training has ended
        # The stopped members (their indices, on the device) and their weights, put back after
        # every step: built once per stop, so a step copies them without waiting for the host.
        self._stopped_index: torch.Tensor | None = None
        self._frozen: dict[str, torch.Tensor] = {}
        self._rows_per_member = 0

    @property
    def size(self) -> int:
        return len(self.member_seeds)

    def training_target(self) -> MemberBlocks:
        return self.model.blocks()

    def attack_settings(self) -> dict[str, Any]:
        """The training attack's settings, member k drawing its starts from its own run's seed."""
        settings = super().attack_settings()
        seeds = tuple(self.attack_seed(seed) for seed in self.member_seeds)
        settings["seed"] = BlockSeeds(seeds, (self._rows_per_member,) * self.size)
        return settings

    def on_train_epoch_start(self) -> None:
        self._sums = torch.zeros(self.size, 3, device=self.device)  # per member: loss·n, errors, n
        self.training_members = ~self.stopped.clone()  # the members that train this epoch

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y, _ = batch  # (N, B, ...), (N, B)
        n, b = y.shape
        self._rows_per_member = b
        losses, logits = self.loss(x.flatten(0, 1), y.flatten())
        member_loss = losses.view(n, b).mean(1)
        with torch.no_grad():
            errors = (logits.argmax(1) != y.flatten()).view(n, b).sum(1).to(losses.dtype)
            count = torch.full((n,), b, dtype=losses.dtype, device=losses.device)
            self._sums += torch.stack([member_loss.detach() * b, errors, count], dim=1)
        return member_loss.sum()

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        self._restore_stopped()

    def on_train_epoch_end(self) -> None:
        loss_sum, errors, n = self._sums.unbind(1)
        mean_loss = (loss_sum / n).tolist()
        for k in torch.nonzero(self.training_members).flatten().tolist():
            if not math.isfinite(mean_loss[k]):
                raise TrainingDiverged(
                    f"training diverged: member {k} (seed {self.member_seeds[k]}) has train/loss "
                    f"{mean_loss[k]} in epoch {self.current_epoch}; lower optimizer.lr "
                    f"(now {self.optimizers().param_groups[0]['lr']:g})"
                )
            self.train_loss_by_epoch[k].append(mean_loss[k])
        trained = self.training_members.to(self._sums.device)
        self.log("train/loss", (loss_sum / n)[trained].mean(), prog_bar=True)
        self.log("train/err", (errors / n)[trained].mean(), prog_bar=True)

    # --- stopping members ---------------------------------------------------------------------
    @torch.no_grad()
    def stop_members(self, members: list[int]) -> None:
        """End the training of ``members``: their current weights are kept from now on."""
        earlier = self._stopped_index
        self.stopped[members] = True
        index = torch.nonzero(self.stopped).flatten().to(self.device)
        for name, p in self.model.stacked.items():
            frozen = p.detach()[index].clone()
            if earlier is not None:  # members stopped before keep the weights they stopped with
                kept = torch.isin(index, earlier)
                frozen[kept] = self._frozen[name]
            self._frozen[name] = frozen
        self._stopped_index = index

    @torch.no_grad()
    def _restore_stopped(self) -> None:
        if self._stopped_index is None:
            return
        for name, p in self.model.stacked.items():
            p.index_copy_(0, self._stopped_index, self._frozen[name])

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["train_loss_by_epoch"] = [list(losses) for losses in self.train_loss_by_epoch]
        checkpoint["stopped_members"] = self.stopped.clone()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.train_loss_by_epoch = [list(losses) for losses in checkpoint["train_loss_by_epoch"]]
        self.stopped = checkpoint["stopped_members"].clone()

    def on_fit_start(self) -> None:
        # After a resume the stopped members' weights are the checkpoint's: keep those.
        if self.stopped.any():
            self.stop_members(torch.nonzero(self.stopped).flatten().tolist())


class EnsembleNatural(EnsembleMixin, NaturalTraining):
    pass


class EnsembleAT(EnsembleMixin, AdversarialTraining):
    pass


class EnsembleTrades(EnsembleMixin, Trades):
    pass


# The ensemble form of each method that has one (Fine2Coarse trains a sub-network: not stacked).
ENSEMBLE_OF = {NaturalTraining: EnsembleNatural, AdversarialTraining: EnsembleAT, Trades: EnsembleTrades}
