"""The W&B logger, set up the way a sweep's dashboard wants it (``logger=wandb``).

- group = the sweep (``<name>/<sweep folder>``), run name = the swept values, tags = the
  experiment name, job_type = the method;
- the resolved config, flattened (``method.lr``, ``data.eta``, ...), as the run config;
- offline unless an API key is configured (``mode=auto``; ``wandb sync`` uploads later), online on
  request (``logger.mode=online``);
- the run id is kept in the run folder (``wandb_id``), so a resumed job continues its W&B run;
- at the end, ``results.json`` becomes the run summary and the adversarial error against ε a
  ``wandb.Table`` that a dashboard can plot.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from benign_lightning.plumbing.errors import ConfigError
from benign_lightning.plumbing.io import atomic_write_text
from benign_lightning.results import adv_err_curve
from benign_lightning.run.lock import launch_rank

ID_FILE = "wandb_id"
MODES = ("auto", "online", "offline")


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _has_api_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    return netrc.exists() and "api.wandb.ai" in netrc.read_text(errors="ignore")


def _sweep_context() -> tuple[str | None, str | None]:
    """(sweep folder name, swept values) under a Hydra multirun; (None, None) otherwise."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None, None
    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return None, None
    return Path(hc.sweep.dir).name, hc.job.override_dirname or None


def wandb_logger(
    save_dir: str,
    *,
    run_config: dict[str, Any],
    project: str = "benign_lightning",
    entity: str | None = None,
    mode: str = "auto",
    experiment: str = "default",
    method: str = "natural",
    tags: list[str] | None = None,
) -> WandbLogger:
    if mode not in MODES:
        raise ConfigError(f"logger.mode={mode!r} is unknown; choose one of {', '.join(MODES)}")
    offline = mode == "offline" or (mode == "auto" and not _has_api_key())
    sweep, swept = _sweep_context()
    id_file = Path(save_dir) / ID_FILE
    run_id = id_file.read_text().strip() if id_file.exists() else None
    logger = WandbLogger(
        project=project,
        entity=entity,
        save_dir=save_dir,
        offline=offline,
        id=run_id,
        resume="allow" if run_id else None,
        group=f"{experiment}/{sweep}" if sweep else None,
        name=swept or Path(save_dir).name,
        tags=[experiment, *(tags or [])],
        job_type=method,
        config=flatten(run_config),
        reinit="finish_previous",  # each job of a sweep in one process gets its own run
    )
    if run_id is None and rank_zero_only.rank == 0:
        atomic_write_text(id_file, logger.experiment.id)
    return logger


def run_logger(cfg: DictConfig, run_dir: Path, method_name: str) -> Any:
    """The ``logger`` group's logger for a run writing into ``run_dir`` (False: none)."""
    if not cfg.get("logger") or "_target_" not in cfg.logger:
        return False
    if cfg.logger._target_.endswith("wandb_logger"):
        # Called directly: instantiate() would also instantiate every _target_ inside run_config.
        kwargs = OmegaConf.to_container(cfg.logger, resolve=True)
        build = get_method(kwargs.pop("_target_"))
        run_config = OmegaConf.to_container(cfg, resolve=True)
        return build(save_dir=str(run_dir), run_config=run_config, method=method_name, **kwargs)
    if cfg.logger._target_.endswith("CSVLogger"):
        keep_earlier_csv(run_dir / str(cfg.logger.get("name", "csv")) / str(cfg.logger.get("version", "")))
    return instantiate(cfg.logger, save_dir=str(run_dir))


def keep_earlier_csv(log_dir: Path) -> Path | None:
    """Lightning's CSV logger deletes a ``metrics.csv`` it finds in its folder: a resumed run would
    lose its earlier epochs' rows. Move it aside first, as ``metrics.session<k>.csv`` (k = 1, 2, ...:
    the sessions in order), on rank 0 only (the one that writes it). Rank 0 as the run lock reads it
    from the launcher's environment: Lightning's own guess (``rank_zero_only.rank``) takes node 1's
    first process for rank 0 too, and two nodes would race to move one file on a shared filesystem."""
    earlier = log_dir / "metrics.csv"
    if launch_rank() != 0 or not earlier.exists():
        return None
    k = 1
    while (log_dir / f"metrics.session{k}.csv").exists():
        k += 1
    kept = log_dir / f"metrics.session{k}.csv"
    try:
        os.replace(earlier, kept)
    except FileNotFoundError:  # moved by another process meanwhile (a stale view of a shared folder)
        return None
    return kept


def finish_wandb(
    logger: WandbLogger, results: dict[str, Any], figures: dict[str, Path] | None = None
) -> None:
    """Summary = results.json (flattened); the ε curve as a table; the run's figures as images;
    then close the run."""
    import wandb

    run = logger.experiment
    run.summary.update(flatten(results))
    curve = adv_err_curve(results)
    logged: dict[str, Any] = {
        "adv_err_vs_eps": wandb.Table(columns=["eps", "adv_err"], data=[list(p) for p in curve])
    }
    logged.update({key: wandb.Image(str(path)) for key, path in (figures or {}).items()})
    run.log(logged)
    run.finish()
