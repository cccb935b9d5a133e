"""One experiment: validate, lock the folder, seed, build data + model + method, fit, evaluate, write
results."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from benign_lightning.analysis.figures import figures_enabled, write_run_figures
from benign_lightning.analysis.planar import net_predict, planar_results
from benign_lightning.callbacks import (
    HELDOUT_MONITOR,
    HeldOutAdversarialError,
    MemorizationTracker,
    SameBuffersOnAllRanks,
    SameNoiseOnAllRanks,
    StartEpoch,
    StopAtZeroTrainError,
    SubmititSignals,
    TrainPredictions,
)
from benign_lightning.callbacks.curves import EpochCurves
from benign_lightning.callbacks.progress import progress_callback
from benign_lightning.callbacks.representations import RepresentationSnapshots
from benign_lightning.config import recipe_summary, validate
from benign_lightning.data.base import LabelNoiseDataModule
from benign_lightning.data.planar import PlanarDataModule
from benign_lightning.evaluation.evaluate import evaluate, heldout_arrays, predict_logits
from benign_lightning.methods.robust import RobustTraining
from benign_lightning.results import (
    BEST_CKPT,
    LAST_CKPT,
    format_table,
    load_state_dict,
    run_identity,
    write_predictions,
    write_results,
    write_run_record,
)
from benign_lightning.run.agree import rank_zero_decides
from benign_lightning.run.builders import attack_spec, build_method, curves_attack_spec, is_exact
from benign_lightning.run.checkpoints import KeptCheckpointIO, resume_from
from benign_lightning.run.ensemble import run_ensemble
from benign_lightning.run.exact import run_exact
from benign_lightning.run.lock import RunFolderLock
from benign_lightning.run.loggers import finish_wandb, run_logger
from benign_lightning.run.slurm import threads_for_this_task, under_submitit

log = logging.getLogger(__name__)


class _Callbacks:
    """The run's callbacks, built from the config, with handles on those the results read."""

    def __init__(self, cfg: DictConfig, datamodule: LabelNoiseDataModule, run_dir: Path, logger: Any):
        predictions = TrainPredictions(batch_size=datamodule.eval_batch_size)
        ckpt_dir = str(run_dir / LAST_CKPT.parent)  # a str: weights_only checkpoint loading rejects Path
        self.ranks = SameNoiseOnAllRanks()
        self.start = StartEpoch()
        self.stop = StopAtZeroTrainError(predictions) if cfg.stop_at_zero_train_err else None
        self.curves = None
        if cfg.curves.enabled:  # per-epoch curves (callbacks/curves.py)
            self.curves = EpochCurves(
                predictions, eps=float(cfg.eps), attack=curves_attack_spec(cfg, datamodule.input_range),
                n_test=int(cfg.curves.n_test), every_n_epochs=int(cfg.curves.every_n_epochs),
                seed=int(cfg.seed),
            )  # fmt: skip
        self.fit_seconds: float | None = None
        self.memorization = None
        if cfg.memorization is not False:  # "auto" is decided on the training set's size at fit start
            self.memorization = MemorizationTracker(
                predictions,
                run_dir / "memorization.npz",
                enabled=cfg.memorization,
                every_n_epochs=cfg.memorization_every_n_epochs,
                loss_epoch=cfg.get("small_loss_epoch"),
            )
        self.representations = None
        if cfg.representations.epochs:  # Figure 3
            spec = attack_spec(cfg.attack, datamodule.input_range)
            spec = spec.replace(steps=int(cfg.representations.steps))
            self.representations = RepresentationSnapshots(
                epochs=list(cfg.representations.epochs), n_points=int(cfg.representations.n_points),
                attack=spec, eps=float(cfg.eps), seed=int(cfg.seed), path=run_dir / "representations.npz",
                figure=run_dir / "figures" / "representations_pca.png",
            )  # fmt: skip
        self.early_stopping = self.best = None
        heldout = []
        stopping = cfg.early_stopping
        if stopping.enabled:
            attack = attack_spec(cfg.attack, datamodule.input_range)
            if stopping.steps is not None:
                attack = attack.replace(steps=int(stopping.steps))
            heldout = [HeldOutAdversarialError(eps=float(cfg.eps), attack=attack, seed=cfg.seed)]
            self.early_stopping = pl.callbacks.EarlyStopping(
                monitor=HELDOUT_MONITOR, mode="min", patience=int(stopping.patience),
                min_delta=float(stopping.min_delta), check_on_train_epoch_end=True,
            )  # fmt: skip
            self.best = pl.callbacks.ModelCheckpoint(
                dirpath=ckpt_dir, filename=BEST_CKPT.stem, monitor=HELDOUT_MONITOR, mode="min",
                save_top_k=1, enable_version_counter=False,
            )  # fmt: skip
        # Overwrites checkpoints/last.ckpt every `checkpoint_every_n_epochs` epochs (and at the end),
        # so a killed run resumes.
        self.last = pl.callbacks.ModelCheckpoint(
            dirpath=ckpt_dir, filename=LAST_CKPT.stem, save_top_k=1, enable_version_counter=False,
            every_n_epochs=int(cfg.checkpoint_every_n_epochs), save_last=False,
        )  # fmt: skip
        # Order matters: the held-out error is logged before EarlyStopping and the checkpoints read it.
        signals = SubmititSignals() if under_submitit() else None  # requeue on preemption
        self.progress = progress_callback(cfg.progress, cfg.trainer.get("enable_progress_bar", True))
        lr = pl.callbacks.LearningRateMonitor(logging_interval="epoch") if logger else None
        optional = [signals, self.progress, lr, self.stop, self.curves, self.memorization,
                    self.representations, *heldout, self.early_stopping, self.best]  # fmt: skip
        # SameBuffersOnAllRanks first: every callback after it reads rank 0's BatchNorm statistics.
        self.all = [SameBuffersOnAllRanks(), self.ranks, self.start, *[c for c in optional if c is not None],
                    self.last]  # fmt: skip

    def results(self, trainer: pl.Trainer) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stopped_at_zero_train_err": (
                self.stop is not None and self.stop.zero_error_epoch == trainer.current_epoch - 1
            ),
            "noise_digest_by_rank": self.ranks.digests,
            "start_epoch": self.start.epoch,
        }
        if self.memorization is not None:
            out.update(self.memorization.summary())
        if self.curves is not None:
            out.update(self.curves.results(self.fit_seconds))
        if self.representations is not None:
            out["representations"] = self.representations.summary()
        if self.early_stopping is not None:
            out["early_stopped"] = self.early_stopping.stopped_epoch > 0
            best = self.best.best_model_score
            out["heldout_adv_err_best"] = float(best) if best is not None else None
        return out


def run(
    cfg: DictConfig, run_dir: str | Path, datamodule: LabelNoiseDataModule | None = None
) -> dict[str, Any]:
    """Run one experiment into ``run_dir`` and return its results (also in ``results.json``).

    The config is checked first (``config.validate``; pass its ``datamodule`` if it has been), and
    the run holds ``run_dir``'s lock throughout: a second process on the folder is refused."""
    datamodule = datamodule if datamodule is not None else validate(cfg)
    with RunFolderLock(run_dir):
        if is_exact(cfg):
            return run_exact(cfg, Path(run_dir), datamodule)
        if int(cfg.ensemble.size) > 1:
            return run_ensemble(cfg, Path(run_dir), datamodule)
        return _run(cfg, Path(run_dir), datamodule)


def _run(cfg: DictConfig, run_dir: Path, datamodule: LabelNoiseDataModule) -> dict[str, Any]:
    start = time.perf_counter()
    last = run_dir / LAST_CKPT

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    # Denormal floats make CPU matmuls up to 10x slower once a network is very confident (measured:
    # 106 s vs 9.5 s for 20 toy-MNIST epochs). The attack does not depend on them (attacks/pgd.py).
    torch.set_flush_denormal(bool(cfg.get("flush_denormal", True)))
    threads_for_this_task()  # under SLURM: as many threads as CPUs allocated
    method = build_method(cfg, datamodule)
    say(recipe_summary(cfg))

    logger = run_logger(cfg, run_dir, method.method_name)
    callbacks = _Callbacks(cfg, datamodule, run_dir, logger)
    trainer_kwargs = OmegaConf.to_container(cfg.trainer, resolve=True)
    trainer_kwargs["enable_progress_bar"] = callbacks.progress is not None
    trainer = pl.Trainer(
        **trainer_kwargs,
        logger=logger,
        callbacks=callbacks.all,
        default_root_dir=str(run_dir),
        plugins=[KeptCheckpointIO()],  # atomic writes, the previous checkpoint kept
    )
    # Before any file is written; rank 0 looks at the folder (and sets a damaged checkpoint aside).
    resume = rank_zero_decides(trainer, "resume", lambda: _resume_choice(cfg, last))
    resume = Path(resume) if resume else None

    # Set the data up here (Lightning would do it in fit) to record the noise before training.
    datamodule.trainer = trainer
    datamodule.prepare_data()
    datamodule.setup("fit")
    if trainer.is_global_zero:
        write_run_record(run_dir, cfg, datamodule)

    fit_start = time.perf_counter()
    trainer.fit(method, datamodule=datamodule, ckpt_path=str(resume) if resume else None)
    callbacks.fit_seconds = time.perf_counter() - fit_start
    back_on_device(method, trainer)
    # fast_dev_run saves no checkpoints, and a run saving every n epochs may end between two: the
    # contract wants the final weights in last.ckpt. (save_checkpoint is a collective: every rank.)
    every_n = int(cfg.checkpoint_every_n_epochs)
    if rank_zero_decides(trainer, "save_last", lambda: not last.exists() or every_n > 1):
        trainer.save_checkpoint(last)
    epochs = int(trainer.current_epoch)
    evaluated = LAST_CKPT
    restore_best = callbacks.best is not None and cfg.early_stopping.restore_best
    if restore_best and rank_zero_decides(trainer, "restore_best", (run_dir / BEST_CKPT).exists):
        # Evaluate the weights of the epoch with the lowest held-out adversarial error.
        method.model.load_state_dict(load_state_dict(run_dir / BEST_CKPT, map_location=method.device))
        evaluated = BEST_CKPT

    metrics, arrays = evaluate(
        method.model,
        train=datamodule.eval_train,
        clean_train_labels=datamodule.eval_clean_train_labels,
        test=datamodule.test,
        eps=cfg.eps,
        eval_eps=cfg.attack.eval_eps,
        attack=attack_spec(cfg.attack, datamodule.input_range),
        batch_size=cfg.attack.batch_size,
        envelope_only=bool(cfg.attack.envelope_only),
        checks=str(cfg.attack.checks),
        large_eps=cfg.attack.large_eps,
        seed=cfg.seed,
    )
    results = {
        **run_identity(cfg, datamodule, method.method_name),
        "epochs": epochs,
        "train_loss_by_epoch": method.train_loss_by_epoch,
        "final_train_loss": method.train_loss_by_epoch[-1] if method.train_loss_by_epoch else None,
        **callbacks.results(trainer),
        "resumed": resume is not None,
        "resumed_from": str(resume.relative_to(run_dir)) if resume else None,
        "evaluated_checkpoint": str(evaluated),  # what load_model(run_dir) loads
        "device": str(trainer.strategy.root_device),
        "world_size": int(trainer.world_size),
        **metrics,
    }
    if trainer.is_global_zero and isinstance(datamodule, PlanarDataModule):
        robust_eps = float(cfg.eps) if isinstance(method, RobustTraining) else None
        title = f"{cfg.name}: {method.method_name}, {datamodule.name}, eta={cfg.eta}"
        planar = planar_results(net_predict(method.model), datamodule, arrays["train_pred"], run_dir, title,
                                robust_eps, str(cfg.attack.norm))  # fmt: skip
        results.update(planar)
    heldout = datamodule.eval_heldout
    if heldout is not None:  # memorization estimates and cross-validation read the held-out rows'
        arrays.update(heldout_arrays(predict_logits(method.model, heldout, datamodule.eval_batch_size).cpu()))
    results["wall_s"] = round(time.perf_counter() - start, 3)
    if trainer.is_global_zero:
        write_predictions(run_dir, arrays, datamodule)
        wandb = isinstance(trainer.logger, WandbLogger)
        figures = write_run_figures(run_dir, results) if figures_enabled(cfg, wandb) else {}
        write_results(run_dir, results)  # last: its presence marks a finished run
        if wandb:
            finish_wandb(trainer.logger, results, figures)
    return results


def back_on_device(method: pl.LightningModule, trainer: pl.Trainer) -> None:
    """The model back on the training device after ``fit``: Lightning's ``Strategy.teardown`` moves
    it to the host when fit ends, and evaluation would then run on the CPU, and hand CPU tensors to
    NCCL's gathers."""
    method.to(trainer.strategy.root_device)


def _resume_choice(cfg: DictConfig, last: Path) -> str | None:
    """The checkpoint to resume from (``checkpoints.resume_from``), or None with ``resume=false``."""
    path = resume_from(last) if cfg.get("resume", True) else None
    return str(path) if path else None


@rank_zero_only
def say(line: str) -> None:
    """A line for the user on the console (rank 0 only)."""
    print(line, flush=True)


@rank_zero_only
def print_summary(results: dict[str, Any], run_dir: str | Path) -> None:
    if "member_results" in results:  # an ensemble job: each member's table
        for k, member in enumerate(results["member_results"]):
            print(format_table(member))
            print(f"results: {Path(run_dir) / results['members'][k] / 'results.json'}")
        return
    print(format_table(results))
    print(f"results: {Path(run_dir) / 'results.json'}")


def set_float32_precision() -> None:
    # TF32 matmuls on Ampere+ GPUs: a large speed-up that does not change the paper's conclusions.
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")
