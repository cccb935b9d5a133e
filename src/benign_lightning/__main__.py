"""``python -m benign_lightning [+experiment=NAME] [-m] overrides``: compose the config, run it."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, read_write

from benign_lightning.plumbing import quiet  # noqa: F401  (quiets the libraries on import)
from benign_lightning.plumbing.errors import ConfigError
from benign_lightning.run import slurm  # noqa: F401  (registers its launcher's config)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def app(cfg: DictConfig) -> float | None:
    from benign_lightning.config import validate
    from benign_lightning.results import finished_results
    from benign_lightning.run.job import print_summary, run, set_float32_precision
    from benign_lightning.run.lock import RunFolderLock, launch_rank

    set_float32_precision()
    run_dir = HydraConfig.get().runtime.output_dir
    relaunch_ddp_children_as_this_job()
    ddp_env = {key: os.environ.get(key) for key in DDP_ENV}
    try:
        datamodule = validate(cfg)  # before anything is written
        slurm.check_slurm_step(cfg)  # as many processes as the SLURM step has tasks
        slurm.check_several_nodes(cfg)  # several nodes: started by torchrun or SLURM
        done = finished_results(run_dir) if cfg.get("skip_complete") else None  # results.py
        if done is not None:  # reproduce's reruns: a finished job is not run again
            print(f"complete, skipped: {run_dir}", flush=True)
            return done.get("adv_err")
        with RunFolderLock(run_dir):
            if launch_rank() == 0:
                write_hydra_record(run_dir, cfg)
            results = run(cfg, run_dir, datamodule)
    except ConfigError as e:
        # A user's mistake: say what is wrong and stop, without a traceback.
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except Exception as e:
        write_failure(run_dir, cfg, e)  # a crash leaves a marker that aggregation shows
        raise
    finally:
        end_process_group(ddp_env)
    print_summary(results, run_dir)
    return results["adv_err"]  # what a Hydra sweeper would optimise


def write_hydra_record(run_dir: str, cfg: DictConfig) -> None:
    """What Hydra writes into ``.hydra/`` (config, hydra config, overrides), written here instead
    (``hydra.output_subdir: null``): once this run holds the folder's lock, and atomically."""
    from benign_lightning.plumbing.io import atomic_write_text

    hydra_cfg = HydraConfig.get()
    out = Path(run_dir) / ".hydra"
    records = {
        "config.yaml": cfg,
        "hydra.yaml": OmegaConf.create({"hydra": OmegaConf.to_container(hydra_cfg)}),
        "overrides.yaml": OmegaConf.create(list(hydra_cfg.overrides.task)),
    }
    for name, node in records.items():
        atomic_write_text(out / name, OmegaConf.to_yaml(node))


def write_failure(run_dir: str, cfg: DictConfig, error: BaseException) -> None:
    """``results.json`` with ``status: failed`` and the error (rank 0 only); rerunning the folder
    resumes from the last checkpoint and replaces it."""
    from pytorch_lightning.utilities import rank_zero_only

    from benign_lightning.results import write_results

    if rank_zero_only.rank != 0:
        return
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    write_results(
        run_dir,
        {
            "status": "failed",
            "error": f"{type(error).__name__}: {error}",
            "traceback": "".join(lines)[-4000:],
            "name": cfg.get("name"),
            "overrides": list(HydraConfig.get().overrides.task),
        },
    )


def relaunch_ddp_children_as_this_job() -> None:
    """Make Lightning's DDP launcher start the other ranks as *this* job, in *this* job's folder.

    Lightning starts ranks 1..N-1 by re-running the command line with ``hydra.run.dir`` set to
    ``HydraConfig.run.dir`` (see ``_hydra_subprocess_cmd``). Under ``-m`` that command line is the
    whole sweep and that folder is not the job's, so each child would start its own sweep and new
    folders. Here the command line becomes this job's own overrides (no ``-m``) and ``run.dir`` its
    output folder: one job, one folder, one results.json. Processes started by torchrun or SLURM do
    not go through the launcher, and this changes nothing for them.
    """
    hydra_cfg = HydraConfig.get()
    sys.argv = [sys.argv[0], *hydra_cfg.overrides.task]
    with read_write(hydra_cfg):
        hydra_cfg.run.dir = hydra_cfg.runtime.output_dir


# Set by Lightning's launcher in the launching process (or by torchrun/SLURM from outside).
DDP_ENV = ("LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT")


def end_process_group(ddp_env_before: dict[str, str | None]) -> None:
    """After a job: tear down its process group and restore the DDP variables to what they were
    before it, so the next job of a sweep in this process launches its own ranks (with LOCAL_RANK
    left set, Lightning would take the processes as started from outside and wait for them)."""
    import torch.distributed as dist

    from benign_lightning.run.agree import forget_decisions

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    forget_decisions()
    for key, value in ddp_env_before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _multirun_flag_first(argv: list[str]) -> list[str]:
    """Let ``-m`` stand anywhere, as in ``python -m benign_lightning +experiment=X -m eta=0,0.1``.

    Hydra's argparse takes overrides as one positional list, so a flag between overrides would
    leave the ones after it unparsed.
    """
    flags = [a for a in argv[1:] if a in ("-m", "--multirun")]
    rest = [a for a in argv[1:] if a not in ("-m", "--multirun")]
    return argv[:1] + flags[:1] + rest


# Hydra's own command-line flags; with any of them the command line is left to Hydra alone.
_HYDRA_FLAGS = ("--cfg", "-c", "--help", "-h", "--hydra-help", "--info", "-i", "--resolve", "--package", "-p",
                "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd", "--shell-completion",
                "-sc", "--experimental-rerun", "--version")  # fmt: skip


def main() -> None:
    sys.argv = _multirun_flag_first(sys.argv)
    args = [a for a in sys.argv[1:] if a not in ("-m", "--multirun")]
    if not any(a.split("=", 1)[0] in _HYDRA_FLAGS for a in args):
        from benign_lightning.config import check_command_line

        try:
            check_command_line(args)  # every key, option and value, before Hydra starts
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
    app()


if __name__ == "__main__":
    main()
