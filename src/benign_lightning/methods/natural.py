"""Natural training (§3.1): the cross-entropy of the (noisy) labels.

Robust methods (AT, TRADES) subclass this and override ``loss`` only. The optimizer and the learning
rate schedule are given, not chosen here: the configs (``optimizer``, ``scheduler`` and the recipe)
are the one source of their values, so a run from Python and from the CLI train alike.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from benign_lightning.plumbing.errors import ConfigError, TrainingDiverged

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]
SCHEDULER_INTERVALS = ("epoch", "step")


def needs_total_steps(scheduler: SchedulerFactory) -> bool:
    """A schedule given ``total_steps: null`` (OneCycleLR's default here): it is the run's length."""
    return getattr(scheduler, "keywords", {}).get("total_steps", 0) is None


class NaturalTraining(pl.LightningModule):
    """Wraps a plain ``nn.Module``; ``model_spec`` is what ``build_model`` needs to rebuild it.

    ``optimizer`` is called with the parameters (e.g. ``functools.partial(torch.optim.SGD, lr=0.1)``,
    what ``hydra.utils.instantiate`` makes of ``conf/optimizer/*.yaml``); ``scheduler``, if any, with
    the optimizer, and it is stepped every ``scheduler_interval`` (``epoch`` or ``step``).
    """

    method_name = "natural"

    def __init__(
        self,
        model: nn.Module,
        *,
        model_spec: dict[str, Any],
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None,
        scheduler_interval: str = "epoch",
        channels_last: bool = False,
        fused_optimizer: bool = False,
        compile_model: bool = False,
    ) -> None:
        super().__init__()
        if scheduler_interval not in SCHEDULER_INTERVALS:
            raise ConfigError(
                f"scheduler.interval={scheduler_interval!r}: choose one of {', '.join(SCHEDULER_INTERVALS)}"
            )
        self.model = model
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.scheduler_interval = scheduler_interval
        # speed=fast (conf/speed/fast.yaml): inputs in the model's channels_last layout, and the
        # optimizer's fused kernel where it has one for the parameters' device.
        self.channels_last, self.fused_optimizer = bool(channels_last), bool(fused_optimizer)
        self.compile_model = bool(compile_model)
        # The spec lands in the checkpoint, so load_model(run_dir) can rebuild the nn.Module. The
        # factories are not saved (checkpoints load with weights_only=True); config.yaml has them.
        self.save_hyperparameters(ignore=["model", "optimizer", "scheduler"])
        # The epoch means of the training loss (for a robust method: the robust training loss), for
        # results.json; kept in the checkpoint, so a resumed run has the whole curve.
        self.train_loss_by_epoch: list[float] = []

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["train_loss_by_epoch"] = list(self.train_loss_by_epoch)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.train_loss_by_epoch = list(checkpoint.get("train_loss_by_epoch", []))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_target(self) -> nn.Module:
        """The module whose outputs the training loss reads (Fine2Coarse: the fine network)."""
        return self.model

    @property
    def train_net(self) -> nn.Module:
        """What the training step (and its attack) runs: ``training_target()``, compiled once with
        ``torch.compile`` under ``speed.compile``.

        The compiled wrapper is kept out of the module tree, so state-dict keys and checkpoints
        stay those of the eager model (no ``_orig_mod.`` prefix) and ``load_model`` needs no
        compiler. Evaluation never goes through it: it runs ``self.model`` eagerly in fp32, with
        batch shapes that change (the last batch, PGD's early stop) and would recompile.
        """
        if not self.compile_model:
            return self.training_target()
        compiled = self.__dict__.get("_compiled_net")
        if compiled is None:
            # dynamic=False: training batches have one shape (data.drop_last follows speed.compile),
            # so it compiles once per mode (train, and eval for the training attack's bn_eval).
            compiled = torch.compile(self.training_target(), dynamic=False)
            self.__dict__["_compiled_net"] = compiled
        return compiled

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(per-example loss, logits)``; the only thing a method changes. The training
        loss is its mean; per example, so an ensemble can take each member's mean (methods/ensemble.py)."""
        logits = self.train_net(x)
        return F.cross_entropy(logits, y, reduction="none"), logits

    def on_train_epoch_start(self) -> None:
        # Running sums on the device: no host sync per step; one reduction at the epoch's end.
        self._sums = torch.zeros(3, device=self.device)  # loss·n, errors, n

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y, _ = batch
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        losses, logits = self.loss(x, y)
        loss = losses.mean()
        with torch.no_grad():
            # Device-side only: no .item(), no tensor built from a Python number (on CUDA that is a
            # host-to-device copy that synchronises the stream every step).
            errors = (logits.argmax(1) != y).sum().to(loss.dtype)
            count = torch.full((), len(y), dtype=loss.dtype, device=loss.device)
            self._sums += torch.stack([loss.detach() * len(y), errors, count])
        return loss

    def on_train_epoch_end(self) -> None:
        loss_sum, errors, n = self.trainer.strategy.reduce(self._sums, reduce_op="sum")
        if not torch.isfinite(loss_sum):
            raise TrainingDiverged(
                f"training diverged: train/loss is {float(loss_sum / n)} in epoch {self.current_epoch}; "
                f"lower optimizer.lr (now {self.optimizers().param_groups[0]['lr']:g})"
            )
        self.train_loss_by_epoch.append(float(loss_sum / n))  # the check above has synchronised already
        # Already reduced: sync_dist averages equal numbers (once per epoch) and keeps Lightning quiet.
        self.log("train/loss", loss_sum / n, prog_bar=True, sync_dist=True)
        self.log("train/err", errors / n, prog_bar=True, sync_dist=True)

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters(), **self._fused())
        if self.scheduler_factory is None:
            return optimizer
        kwargs = {}
        if needs_total_steps(self.scheduler_factory):
            # The run's number of optimizer steps is known only here.
            kwargs["total_steps"] = int(self.trainer.estimated_stepping_batches)
        scheduler = self.scheduler_factory(optimizer, **kwargs)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval},
        }

    def _fused(self) -> dict[str, bool]:
        """``{"fused": True}`` when asked for, on CUDA, and taken by the optimizer class."""
        if not self.fused_optimizer or not all(p.is_cuda for p in self.parameters()):
            return {}
        target = getattr(self.optimizer_factory, "func", self.optimizer_factory)
        return {"fused": True} if "fused" in inspect.signature(target).parameters else {}


class Fine2CoarseTraining(NaturalTraining):
    """Fine2Coarse (App. C.3): the cross-entropy of the *fine* logits on the fine labels; the model
    (``models.SumToCoarse``) is evaluated and attacked on its coarse logits."""

    method_name = "fine2coarse"

    def __init__(self, model: nn.Module, **natural: Any) -> None:
        if not hasattr(model, "fine_logits"):
            raise ConfigError("method=fine2coarse needs data.label_set=fine2coarse (a fine-to-coarse model)")
        super().__init__(model, **natural)

    def training_target(self) -> nn.Module:
        return self.model.fine_net  # trained on its fine logits; the coarse sum is for evaluation
