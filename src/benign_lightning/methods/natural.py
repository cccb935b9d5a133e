"""Natural training (§3.1): SGD with momentum on the cross-entropy of the (noisy) labels.

Robust methods (AT, TRADES) subclass this and override ``loss`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from benign_lightning.errors import ConfigError, TrainingDiverged


class NaturalTraining(pl.LightningModule):
    """Wraps a plain ``nn.Module``; ``model_spec`` is what ``build_model`` needs to rebuild it."""

    method_name = "natural"

    def __init__(
        self,
        model: nn.Module,
        *,
        model_spec: dict[str, Any],
        lr: float = 0.1,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        nesterov: bool = False,
        milestones: Sequence[int] = (),
        gamma: float = 0.1,
    ) -> None:
        super().__init__()
        self.model = model
        # The spec lands in the checkpoint, so load_model(run_dir) can rebuild the nn.Module.
        self.save_hyperparameters(ignore=["model"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(loss, logits)``; the only thing a method changes."""
        logits = self.model(x)
        return F.cross_entropy(logits, y), logits

    def on_train_epoch_start(self) -> None:
        # Running sums on the device: no host sync per step; one reduction at the epoch's end.
        self._sums = torch.zeros(3, device=self.device)  # loss·n, errors, n

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y, _ = batch
        loss, logits = self.loss(x, y)
        with torch.no_grad():
            errors = (logits.argmax(1) != y).sum().to(loss.dtype)
            self._sums += torch.stack([loss.detach() * len(y), errors, loss.new_tensor(len(y))])
        return loss

    def on_train_epoch_end(self) -> None:
        loss_sum, errors, n = self.trainer.strategy.reduce(self._sums, reduce_op="sum")
        if not torch.isfinite(loss_sum):
            raise TrainingDiverged(
                f"training diverged: train/loss is {float(loss_sum / n)} in epoch {self.current_epoch}; "
                f"lower method.lr (now {self.hparams.lr})"
            )
        # Already reduced: sync_dist averages equal numbers (once per epoch) and keeps Lightning quiet.
        self.log("train/loss", loss_sum / n, prog_bar=True, sync_dist=True)
        self.log("train/err", errors / n, prog_bar=True, sync_dist=True)

    def configure_optimizers(self):
        hp = self.hparams
        optimizer = torch.optim.SGD(
            self.parameters(),
            lr=hp.lr,
            momentum=hp.momentum,
            weight_decay=hp.weight_decay,
            nesterov=hp.nesterov,
        )
        scheduler = torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=list(hp.milestones), gamma=hp.gamma
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}


class Fine2CoarseTraining(NaturalTraining):
    """Fine2Coarse (App. C.3): the cross-entropy of the *fine* logits on the fine labels; the model
    (``models.SumToCoarse``) is evaluated and attacked on its coarse logits."""

    method_name = "fine2coarse"

    def __init__(self, model: nn.Module, **natural: Any) -> None:
        if not hasattr(model, "fine_logits"):
            raise ConfigError("method=fine2coarse needs data.label_set=fine2coarse (a fine-to-coarse model)")
        super().__init__(model, **natural)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model.fine_logits(x)
        return F.cross_entropy(logits, y), logits
