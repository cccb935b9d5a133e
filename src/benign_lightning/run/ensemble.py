"""An ensemble job (``ensemble.size=N``): N members trained side by side in one process, each
written as the run folder of the single run it stands for (seed + k).

job_dir/
  .hydra/                the job's overrides (ensemble.size=N, seed=S, ...)
  checkpoints/last.ckpt  all members' weights, optimizer state and records: a killed job resumes
  member_<k>/            member k's run folder: config.yaml (seed S + k), .hydra/overrides.yaml
                         (seed=S+k, without ensemble.size), env.json, noise.npz, predictions.npz,
                         memorization.npz, checkpoints/last.ckpt (its own weights), results.json
  results.json           written last: ``status: ensemble`` and the members' folders; ``aggregate``
                         reads the members as seeds, not the job
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import yaml
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import WandbLogger

from benign_lightning.analysis import influence
from benign_lightning.analysis.figures import figures_enabled, write_run_figures
from benign_lightning.analysis.planar import net_predict, planar_results
from benign_lightning.callbacks import SameBuffersOnAllRanks, StartEpoch
from benign_lightning.callbacks.ensemble import EnsembleFit
from benign_lightning.callbacks.memorization import train_rows_index
from benign_lightning.callbacks.progress import progress_callback
from benign_lightning.data.base import LabelNoiseDataModule
from benign_lightning.data.ensemble import EnsembleDataModule
from benign_lightning.data.planar import PlanarDataModule
from benign_lightning.evaluation.evaluate import MemberData, evaluate_members
from benign_lightning.methods.ensemble import EnsembleMixin
from benign_lightning.methods.robust import RobustTraining
from benign_lightning.plumbing.io import atomic_write, atomic_write_text
from benign_lightning.results import (
    LAST_CKPT,
    run_identity,
    write_predictions,
    write_results,
    write_run_record,
)
from benign_lightning.run.builders import attack_spec, build_datamodule, build_ensemble_method, member_seeds
from benign_lightning.run.checkpoints import KeptCheckpointIO, resume_from
from benign_lightning.run.loggers import finish_wandb, run_logger
from benign_lightning.run.slurm import threads_for_this_task

# Overrides of the job that a member's own record leaves out or replaces.
_JOB_ONLY = ("ensemble.size", "seed")


def member_dir(run_dir: Path, k: int) -> Path:
    return run_dir / f"member_{k}"


def member_config(cfg: DictConfig, k: int) -> DictConfig:
    """The config of the single run member k stands for: seed + k (and what follows from it through
    interpolations: data_seed, shuffle_seed, ... unless set), ``ensemble.size=1``, ``member=k``."""
    member = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    member.seed = int(cfg.seed) + k
    member.ensemble.size, member.ensemble.member = 1, k
    if member.data.get("cv_folds") and member.data.get("cv_fold") is None:
        member.data.cv_fold = k  # K-fold cross-validation as an ensemble: member k holds out fold k
    return member


def member_overrides(run_dir: Path, seed: int) -> list[str]:
    """The job's overrides (``.hydra/overrides.yaml``) as member k's: ``seed=seed``, no
    ``ensemble.size``; so ``aggregate`` sees the members as a sweep over seeds."""
    path = run_dir / ".hydra" / "overrides.yaml"
    job = yaml.safe_load(path.read_text()) if path.exists() else []
    kept = [o for o in job or [] if o.lstrip("+~").split("=", 1)[0] not in _JOB_ONLY]
    return [*kept, f"seed={seed}"]


def _subsets_differ(datamodules: list[LabelNoiseDataModule]) -> bool:
    """Do the members train on different subsets of one training set (``data.holdout`` with
    ``data.holdout_seed=${seed}``, ``data_seed`` fixed)?"""
    first = datamodules[0]
    same_rows = all(np.array_equal(m.train_index, first.train_index) for m in datamodules)
    return bool(first.heldout_mask.any()) and same_rows and any(
        not np.array_equal(m.heldout_mask, first.heldout_mask) for m in datamodules[1:]
    )


def save_member_checkpoint(path: Path, state: dict[str, torch.Tensor], spec: dict[str, Any]) -> None:
    """A checkpoint ``results.load_model`` reads: the model spec and the ``model.``-prefixed weights."""
    checkpoint = {"state_dict": {f"model.{k}": v.cpu() for k, v in state.items()},
                  "hyper_parameters": {"model_spec": spec}}  # fmt: skip
    atomic_write(path, lambda f: torch.save(checkpoint, f))


def run_ensemble(cfg: DictConfig, run_dir: Path, datamodule: LabelNoiseDataModule) -> dict[str, Any]:
    """Train, evaluate and write every member of the job; return the job's record (the members'
    results under ``members``)."""
    start = time.perf_counter()
    last = run_dir / LAST_CKPT
    resume = resume_from(last) if cfg.get("resume", True) else None
    seeds = member_seeds(cfg)
    configs = [member_config(cfg, k) for k in range(len(seeds))]
    datamodules = [datamodule] + [build_datamodule(c) for c in configs[1:]]

    torch.set_flush_denormal(bool(cfg.get("flush_denormal", True)))  # as job.py, for the same speed
    threads_for_this_task()  # under SLURM: as many threads as CPUs allocated
    method = build_ensemble_method(cfg, datamodule)
    print(f"ensemble of {len(seeds)} members (seeds {seeds[0]}..{seeds[-1]}), each written to member_<k>/",
          flush=True)  # fmt: skip
    wandb = cfg.get("logger") and str(cfg.logger.get("_target_", "")).endswith("wandb_logger")
    # W&B: one run per member, written when it is done (below); the job itself logs to CSV only.
    logger = False if wandb else run_logger(cfg, run_dir, method.method_name)
    fit = EnsembleFit(
        stop_at_zero_train_err=bool(cfg.stop_at_zero_train_err), memorization=cfg.memorization,
        every_n_epochs=int(cfg.memorization_every_n_epochs), batch_size=int(datamodule.eval_batch_size),
    )  # fmt: skip
    progress = progress_callback(cfg.progress, cfg.trainer.get("enable_progress_bar", True))
    last_ckpt = pl.callbacks.ModelCheckpoint(
        dirpath=str(last.parent), filename=LAST_CKPT.stem, save_top_k=1, enable_version_counter=False,
        every_n_epochs=int(cfg.checkpoint_every_n_epochs), save_last=False,
    )  # fmt: skip
    start_epoch = StartEpoch()
    buffers = SameBuffersOnAllRanks()  # first: the fit records read rank 0's BatchNorm statistics
    callbacks = [c for c in (buffers, start_epoch, progress, fit, last_ckpt) if c is not None]
    trainer_kwargs = OmegaConf.to_container(cfg.trainer, resolve=True)
    trainer_kwargs["enable_progress_bar"] = progress is not None
    trainer = pl.Trainer(**trainer_kwargs, logger=logger, callbacks=callbacks, default_root_dir=str(run_dir),
                         plugins=[KeptCheckpointIO()])  # fmt: skip

    data = EnsembleDataModule(datamodules)
    data.trainer = trainer
    data.setup("fit")
    for k, (member_cfg, member_data) in enumerate(zip(configs, datamodules, strict=True)):
        folder = member_dir(run_dir, k)
        write_run_record(folder, member_cfg, member_data)
        atomic_write_text(
            folder / ".hydra" / "overrides.yaml", yaml.safe_dump(member_overrides(run_dir, seeds[k]))
        )
        atomic_write_text(folder / ".hydra" / "config.yaml", OmegaConf.to_yaml(member_cfg))

    trainer.fit(method, datamodule=data, ckpt_path=str(resume) if resume else None)
    method.to(trainer.strategy.root_device)  # fit's teardown leaves the model on the host
    if not last.exists() or int(cfg.checkpoint_every_n_epochs) > 1:
        trainer.save_checkpoint(last)

    evaluated = evaluate_members(
        method.model,
        [MemberData(m.eval_train, m.eval_clean_train_labels, m.test, m.eval_heldout) for m in datamodules],
        seeds=seeds, eps=float(cfg.eps), eval_eps=cfg.attack.eval_eps,
        attack=attack_spec(cfg.attack, datamodule.input_range), batch_size=int(cfg.attack.batch_size),
        envelope_only=bool(cfg.attack.envelope_only), checks=str(cfg.attack.checks),
        large_eps=cfg.attack.large_eps, stacked_train=data.stacked_train,
    )  # fmt: skip
    wall = round(time.perf_counter() - start, 3)
    members = []
    for k, (metrics, arrays) in enumerate(evaluated):
        job = _Job(cfg, run_dir, method, fit, trainer, resume, start_epoch.epoch, wall, bool(wandb))
        members.append(job.write_member(k, configs[k], datamodules[k], metrics, arrays))
    record = {
        "status": "ensemble",
        "name": cfg.name,
        "size": len(seeds),
        "seeds": seeds,
        "members": [member_dir(run_dir, k).name for k in range(len(seeds))],
        "wall_s": round(time.perf_counter() - start, 3),
        "resumed": resume is not None,
    }
    if _subsets_differ(datamodules):  # Zhang & Feldman's estimate: members held out different rows
        summary = influence.write(run_dir)
        record["memorization_scores"] = {"file": "memorization_scores.npz", **summary}
    write_results(run_dir, record)  # last: the job is done
    return {**record, "adv_err": sum(m["adv_err"] for m in members) / len(members), "member_results": members}


@dataclass
class _Job:
    """What every member's folder takes from the job."""

    cfg: DictConfig
    run_dir: Path
    method: EnsembleMixin
    fit: EnsembleFit
    trainer: pl.Trainer
    resume: Path | None
    start_epoch: int | None
    wall: float
    wandb: bool

    def write_member(
        self, k: int, member_cfg: DictConfig, datamodule: LabelNoiseDataModule, metrics: dict[str, Any],
        arrays: dict[str, Any],
    ) -> dict[str, Any]:  # fmt: skip
        """Member k's run folder, as its single run would leave it; return its results."""
        method, folder = self.method, member_dir(self.run_dir, k)
        save_member_checkpoint(folder / LAST_CKPT, method.model.member_state(k), method.hparams.model_spec)
        if self.fit.records is not None:
            self.fit.records[k].save(folder / "memorization.npz", train_rows_index(datamodule))
        losses = method.train_loss_by_epoch[k]
        resume = self.resume
        results = {
            **run_identity(member_cfg, datamodule, method.method_name),
            **self.fit.member_results(k),
            "train_loss_by_epoch": losses,
            "final_train_loss": losses[-1] if losses else None,
            "noise_digest_by_rank": [datamodule.noise_digest()],
            "start_epoch": self.start_epoch,
            "ensemble": {"job": str(self.run_dir), "member": k, "size": method.size, "wall_s": self.wall},
            "resumed": resume is not None,
            "resumed_from": str(resume.relative_to(self.run_dir)) if resume else None,
            "evaluated_checkpoint": str(LAST_CKPT),
            "device": str(self.trainer.strategy.root_device),
            "world_size": 1,
            **metrics,
        }
        if isinstance(datamodule, PlanarDataModule):
            results.update(self._planar(k, member_cfg, datamodule, arrays["train_pred"], folder))
        results["wall_s"] = round(self.wall / method.size, 3)  # the member's share of the job
        write_predictions(folder, arrays, datamodule)
        figures = write_run_figures(folder, results) if figures_enabled(member_cfg, self.wandb) else {}
        if self.wandb:
            logger = run_logger(member_cfg, folder, method.method_name)
            assert isinstance(logger, WandbLogger)
            for epoch, loss in enumerate(losses):
                logger.experiment.log({"train/loss": loss, "epoch": epoch})
            finish_wandb(logger, results, figures)
        write_results(folder, results)
        return results

    def _planar(self, k: int, member_cfg: DictConfig, datamodule: PlanarDataModule, train_pred: Any,
                folder: Path) -> dict[str, Any]:  # fmt: skip
        cfg, method = self.cfg, self.method
        robust_eps = float(cfg.eps) if isinstance(method, RobustTraining) else None
        title = f"{cfg.name}: {method.method_name}, {datamodule.name}, eta={cfg.eta}, seed={member_cfg.seed}"
        return planar_results(net_predict(method.model.member(k)), datamodule, train_pred, folder, title,
                              robust_eps, str(cfg.attack.norm))  # fmt: skip
