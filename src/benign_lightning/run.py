"""One experiment: validate, seed, build data + model + method, fit, evaluate, write results."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, get_method, instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from benign_lightning.attacks import NORMS
from benign_lightning.callbacks import (
    HELDOUT_MONITOR,
    HeldOutAdversarialError,
    MemorizationTracker,
    SameNoiseOnAllRanks,
    StartEpoch,
    StopAtZeroTrainError,
    SubmititSignals,
    TrainPredictions,
    check_memorization_setting,
)
from benign_lightning.data.base import TensorDataModule
from benign_lightning.errors import ConfigError
from benign_lightning.evaluate import evaluate
from benign_lightning.figures import write_run_figures
from benign_lightning.loggers import finish_wandb
from benign_lightning.models import build_model, check_model_name
from benign_lightning.results import (
    BEST_CKPT,
    LAST_CKPT,
    environment,
    format_table,
    load_state_dict,
    write_config,
    write_env,
    write_predictions,
    write_results,
)
from benign_lightning.slurm import threads_for_this_task, under_submitit

log = logging.getLogger(__name__)

# Keys of the attack group that are not arguments of ``attacks.pgd``.
_ATTACK_EVAL_KEYS = ("eps", "eval_eps", "batch_size")


def attack_kwargs(attack_cfg: DictConfig) -> dict[str, Any]:
    """The ``pgd`` keyword arguments of the ``attack`` config group."""
    kwargs = OmegaConf.to_container(attack_cfg, resolve=True)
    for key in _ATTACK_EVAL_KEYS:
        kwargs.pop(key, None)
    if kwargs.get("clamp") is not None:
        kwargs["clamp"] = tuple(kwargs["clamp"])
    return kwargs


def _instantiate(node: Any, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate``, with a ConfigError raised by the target passed on as it is."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as e:
        if isinstance(e.__cause__, ConfigError):
            raise e.__cause__ from None
        raise


def _build_method(method_cfg: dict[str, Any], model: torch.nn.Module, model_spec: dict[str, Any]):
    """The LightningModule named by ``method._target_``, with plain-Python arguments (no DictConfig
    ends up in its hyper-parameters, so checkpoints load with ``weights_only=True``)."""
    kwargs = dict(method_cfg)
    method_cls = get_class(kwargs.pop("_target_"))
    try:
        return method_cls(model, model_spec=model_spec, **kwargs)
    except TypeError as e:
        raise ConfigError(f"method config {kwargs} does not fit {method_cls.__name__}: {e}") from None


def validate(cfg: DictConfig, check_data: bool = True) -> TensorDataModule:
    """Check everything a user can get wrong, before any compute; return the datamodule.

    ``check_data=False`` leaves out the check that the dataset files are there (the SLURM launcher
    checks configs on the submitting host, which may not see the compute nodes' data folder).
    """
    check_model_name(cfg.arch)
    attack = cfg.attack
    if attack.norm not in NORMS:
        raise ConfigError(f"attack.norm={attack.norm!r} is unknown; choose one of {', '.join(NORMS)}")
    all_eps = [cfg.eps, *attack.eval_eps]
    for e in all_eps:
        if not isinstance(e, int | float) or e < 0:
            raise ConfigError(f"eps and attack.eval_eps must be numbers >= 0, got {e!r}")
    if attack.steps < 0 or attack.step_size < 0 or attack.restarts < 1:
        raise ConfigError(
            f"attack needs steps >= 0, step_size >= 0, restarts >= 1; got steps={attack.steps}, "
            f"step_size={attack.step_size}, restarts={attack.restarts}"
        )
    reach = attack.steps * attack.step_size
    if attack.norm == "linf" and not attack.random_start and max(all_eps) > reach:
        # A sign step moves each pixel by step_size, so from x the attack cannot leave the
        # reach-ball: errors at larger eps are those at eps = reach (e.g. App. D.1's 20 x 0.01).
        log.warning(
            "attack.steps * attack.step_size = %g is below the largest eps (%g): PGD cannot use the "
            "budget beyond %g. Raise attack.steps or attack.step_size to attack the full ball.",
            reach, max(all_eps), reach,
        )  # fmt: skip
    check_memorization_setting(cfg.memorization)
    if cfg.get("figures", "auto") not in FIGURES_SETTINGS:
        raise ConfigError(f"figures={cfg.figures!r} is unknown; choose one of true, false, auto")
    datamodule = _instantiate(cfg.data)  # validates eta, noise_mode and the data's own settings
    stopping = cfg.early_stopping
    if stopping.enabled:
        if not datamodule.holdout:
            raise ConfigError(
                "early_stopping.enabled=true needs a held-out split: set data.holdout to a fraction "
                "(e.g. data.holdout=0.1) or a number of training examples"
            )
        if stopping.patience < 1 or (stopping.steps is not None and stopping.steps < 0):
            raise ConfigError(
                f"early_stopping needs patience >= 1 and steps >= 0 or null; got "
                f"patience={stopping.patience}, steps={stopping.steps}"
            )
    if check_data:
        datamodule.check_available()
    return datamodule


FIGURES_SETTINGS = (True, False, "auto")


def figures_enabled(cfg: DictConfig, wandb: bool) -> bool:
    """``figures``: the run's PNGs in ``figures/`` (``auto``: when W&B shows them)."""
    setting = cfg.get("figures", "auto")
    return wandb if setting == "auto" else bool(setting)


def _model_spec(cfg: DictConfig, datamodule: TensorDataModule) -> dict[str, Any]:
    """What ``build_model`` needs; it is stored in checkpoints so ``load_model`` can rebuild it."""
    return {
        "name": cfg.arch,
        "num_classes": datamodule.num_classes,
        "in_shape": list(datamodule.in_shape),
        "mean": list(datamodule.mean) if datamodule.mean else None,
        "std": list(datamodule.std) if datamodule.std else None,
        "coarse_of_fine": list(datamodule.coarse_of_fine) if datamodule.fine2coarse else None,
        **OmegaConf.to_container(cfg.model.kwargs, resolve=True),
    }


class _Callbacks:
    """The run's callbacks, built from the config, with handles on those the results read."""

    def __init__(self, cfg: DictConfig, datamodule: TensorDataModule, run_dir: Path, stop_at_zero: bool):
        predictions = TrainPredictions(batch_size=datamodule.eval_batch_size)
        ckpt_dir = str(run_dir / LAST_CKPT.parent)  # a str: weights_only checkpoint loading rejects Path
        self.ranks = SameNoiseOnAllRanks()
        self.start = StartEpoch()
        self.stop = StopAtZeroTrainError(predictions) if stop_at_zero else None
        self.memorization = None
        if cfg.memorization is not False:  # "auto" is decided on the training set's size at fit start
            self.memorization = MemorizationTracker(
                predictions, run_dir / "memorization.npz", enabled=cfg.memorization
            )
        self.early_stopping = self.best = None
        heldout = []
        stopping = cfg.early_stopping
        if stopping.enabled:
            attack = attack_kwargs(cfg.attack)
            if stopping.steps is not None:
                attack["steps"] = int(stopping.steps)
            heldout = [
                HeldOutAdversarialError(
                    eps=float(cfg.eps), attack=attack, batch_size=cfg.attack.batch_size, seed=cfg.seed
                )
            ]
            self.early_stopping = pl.callbacks.EarlyStopping(
                monitor=HELDOUT_MONITOR, mode="min", patience=int(stopping.patience),
                min_delta=float(stopping.min_delta), check_on_train_epoch_end=True,
            )  # fmt: skip
            self.best = pl.callbacks.ModelCheckpoint(
                dirpath=ckpt_dir, filename=BEST_CKPT.stem, monitor=HELDOUT_MONITOR, mode="min",
                save_top_k=1, enable_version_counter=False,
            )  # fmt: skip
        # Overwrites checkpoints/last.ckpt at the end of every epoch, so a killed run resumes.
        self.last = pl.callbacks.ModelCheckpoint(
            dirpath=ckpt_dir, filename=LAST_CKPT.stem, save_top_k=1, enable_version_counter=False
        )
        # Order matters: the held-out error is logged before EarlyStopping and the checkpoints read it.
        signals = SubmititSignals() if under_submitit() else None  # requeue on preemption
        optional = [signals, self.stop, self.memorization, *heldout, self.early_stopping, self.best]
        self.all = [self.ranks, self.start, *[c for c in optional if c is not None], self.last]

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
        if self.early_stopping is not None:
            out["early_stopped"] = self.early_stopping.stopped_epoch > 0
            best = self.best.best_model_score
            out["heldout_adv_err_best"] = float(best) if best is not None else None
        return out


def _logger(cfg: DictConfig, run_dir: Path, method_name: str):
    if not cfg.get("logger") or "_target_" not in cfg.logger:
        return False
    if cfg.logger._target_.endswith("wandb_logger"):
        # Called directly: instantiate() would also instantiate every _target_ inside run_config.
        kwargs = OmegaConf.to_container(cfg.logger, resolve=True)
        build = get_method(kwargs.pop("_target_"))
        run_config = OmegaConf.to_container(cfg, resolve=True)
        return build(save_dir=str(run_dir), run_config=run_config, method=method_name, **kwargs)
    return instantiate(cfg.logger, save_dir=str(run_dir))


def run(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    """Run one experiment into ``run_dir`` and return its results (also in ``results.json``)."""
    start = time.perf_counter()
    run_dir = Path(run_dir)
    datamodule = validate(cfg)

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    # Denormal floats make CPU matmuls up to 10x slower once a network is very confident (measured:
    # 106 s vs 9.5 s for 20 toy-MNIST epochs). The attack does not depend on them (attacks/pgd.py).
    torch.set_flush_denormal(bool(cfg.get("flush_denormal", True)))
    threads_for_this_task()  # under SLURM: as many threads as CPUs allocated
    method_cfg = OmegaConf.to_container(cfg.method, resolve=True)
    stop_at_zero = bool(method_cfg.pop("stop_at_zero_train_err", False))
    method_cfg.pop("label_set", None)  # a data key the method pins (read by data.label_set)
    model_spec = _model_spec(cfg, datamodule)
    method = _build_method(method_cfg, build_model(**model_spec), model_spec)  # validates the method
    if datamodule.fine2coarse and method.method_name != "fine2coarse":
        raise ConfigError(
            "data.label_set=fine2coarse trains on fine labels: use method=fine2coarse, "
            f"not {method.method_name}"
        )

    callbacks = _Callbacks(cfg, datamodule, run_dir, stop_at_zero)
    trainer = pl.Trainer(
        **OmegaConf.to_container(cfg.trainer, resolve=True),
        logger=_logger(cfg, run_dir, method.method_name),
        callbacks=callbacks.all,
        default_root_dir=str(run_dir),
    )

    # Set the data up here (Lightning would do it in fit) to record the noise before training.
    datamodule.trainer = trainer
    datamodule.prepare_data()
    datamodule.setup("fit")
    if trainer.is_global_zero:
        write_config(run_dir, cfg)
        write_env(run_dir, environment())
        datamodule.save_noise(run_dir / "noise.npz")

    last = run_dir / LAST_CKPT
    resume_from = str(last) if cfg.get("resume", True) and last.exists() else None
    trainer.fit(method, datamodule=datamodule, ckpt_path=resume_from)
    if not last.exists():  # fast_dev_run saves no checkpoints; the contract wants one
        trainer.save_checkpoint(last)
    epochs = int(trainer.current_epoch)
    if callbacks.best is not None and cfg.early_stopping.restore_best and (run_dir / BEST_CKPT).exists():
        # Evaluate the weights of the epoch with the lowest held-out adversarial error.
        method.model.load_state_dict(load_state_dict(run_dir / BEST_CKPT, map_location=method.device))

    metrics, arrays = evaluate(
        method.model,
        train=datamodule.eval_train,
        clean_train_labels=datamodule.eval_clean_train_labels,
        test=datamodule.test,
        eps=cfg.eps,
        eval_eps=cfg.attack.eval_eps,
        attack=attack_kwargs(cfg.attack),
        batch_size=cfg.attack.batch_size,
        seed=cfg.seed,
    )
    results = {
        "status": "complete",
        "name": cfg.name,
        "data": datamodule.name,
        "label_set": getattr(datamodule, "label_set", None),
        "method": method.method_name,
        "arch": cfg.arch,
        "eta": float(cfg.eta),
        "eps": float(cfg.eps),
        "seed": int(cfg.seed),
        "data_seed": int(cfg.data_seed),
        "epochs": epochs,
        **callbacks.results(trainer),
        "resumed": resume_from is not None,
        "device": str(trainer.strategy.root_device),
        "world_size": int(trainer.world_size),
        **metrics,
    }
    results["wall_s"] = round(time.perf_counter() - start, 3)
    if trainer.is_global_zero:
        write_predictions(run_dir, arrays)
        wandb = isinstance(trainer.logger, WandbLogger)
        figures = write_run_figures(run_dir, results) if figures_enabled(cfg, wandb) else {}
        write_results(run_dir, results)  # last: its presence marks a finished run
        if wandb:
            finish_wandb(trainer.logger, results, figures)
    return results


@rank_zero_only
def print_summary(results: dict[str, Any], run_dir: str | Path) -> None:
    print(format_table(results))
    print(f"results: {Path(run_dir) / 'results.json'}")


def set_float32_precision() -> None:
    # TF32 matmuls on Ampere+ GPUs: a large speed-up that does not change the paper's conclusions.
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")
