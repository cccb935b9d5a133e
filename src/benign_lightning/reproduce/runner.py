"""Running an entry's sweeps through the normal app, skipping finished jobs, and checking first that
its data is there."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from benign_lightning.plumbing.errors import ConfigError
from benign_lightning.reproduce.entry import Entry, Sweep
from benign_lightning.results import finished_results


def sweep_dir(out: Path, entry: Entry, scale: str, sweep: Sweep) -> Path:
    """Where the sweep's jobs go: the entry's own folder, or the one whose runs it reads."""
    return out / (entry.runs_of or entry.name) / scale / "runs" / sweep.name


def command(sweep: Sweep, overrides: list[str], folder: Path) -> list[str]:
    """The app's command line for ``sweep`` into ``folder``; ``skip_complete=true`` makes a rerun
    pass over the jobs that already finished (``__main__.finished_results``). Always a multirun,
    even of one job: only a multirun writes into ``hydra.sweep.dir`` (a single run would go to
    ``hydra.run.dir``, and the sweep would read as not run)."""
    return [*APP, *app_args(sweep, overrides, folder)]


APP = [sys.executable, "-m", "benign_lightning"]


def app_args(sweep: Sweep, overrides: list[str], folder: Path) -> list[str]:
    """``command``'s arguments after ``python -m benign_lightning``."""
    multirun = [] if "-m" in sweep.args else ["-m"]
    return [*multirun, *sweep.args, *overrides, f"hydra.sweep.dir={folder}", "skip_complete=true"]


def _overrides(args: tuple[str, ...] | list[str]) -> list[str]:
    return [a for a in args if a != "-m"]


def job_count(sweep: Sweep, overrides: list[str]) -> int:
    """How many jobs the sweep has (the product of its comma lists)."""
    parsed = OverridesParser.create().parse_overrides(_overrides([*sweep.args, *overrides]))
    return math.prod(len(list(o.sweep_string_iterator())) for o in parsed if o.is_sweep_override())


def first_job(sweep: Sweep, overrides: list[str]) -> list[str]:
    """The overrides of the sweep's first job (each comma list at its first value)."""
    out = []
    for o in OverridesParser.create().parse_overrides(_overrides([*sweep.args, *overrides])):
        if o.is_sweep_override():
            out.append(f"{o.input_line.split('=', 1)[0]}={next(iter(o.sweep_string_iterator()))}")
        else:
            out.append(o.input_line)
    return out


def why_not_runnable(entry: Entry, scale: str, overrides: list[str]) -> str | None:
    """None when every sweep's first job passes ``config.validate`` (data files included); else the
    reason, e.g. the missing dataset and where it was looked for."""
    from benign_lightning.config import validate

    for sweep in entry.sweeps[scale]:
        try:
            validate(first_job_config(sweep, overrides), warn=False)
        except ConfigError as e:
            return portable(str(e))
    return None


def first_job_config(sweep: Sweep, overrides: list[str]) -> DictConfig:
    """The composed config of the sweep's first job (``first_job``), as the app would compose it."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="benign_lightning.conf", version_base="1.3"):
            return compose(config_name="config", overrides=first_job(sweep, overrides))
    finally:
        GlobalHydra.instance().clear()


def one_process(sweep: Sweep, overrides: list[str]) -> bool:
    """Does the sweep's first job run in one process? A DDP job (``trainer=ddp``, several devices or
    nodes) cannot be called in-process: Lightning starts its other ranks by re-running this
    process's module (``reproduce``), which is not the app."""
    from omegaconf import OmegaConf

    from benign_lightning.config import process_count

    trainer = OmegaConf.to_container(first_job_config(sweep, overrides).trainer, resolve=True)
    return process_count(trainer) == 1 and "ddp" not in str(trainer.get("strategy", ""))


def portable(message: str) -> str:
    """``message`` with this machine's data folder written as the user sets it
    (``$BENIGN_DATA_DIR``, or ``./data``): reports go into the repository and are read elsewhere."""
    import os

    env = os.environ.get("BENIGN_DATA_DIR")
    folder, shown = (Path(env), "$BENIGN_DATA_DIR") if env else (Path("./data"), "./data")
    return message.replace(str(folder.expanduser().resolve()), shown)


def finished(folder: Path) -> int:
    """The sweep's job folders with a finished ``results.json`` (an ensemble job counts once, when
    the job itself finished): the rule by which the app skips them."""
    if not folder.is_dir():
        return 0
    return sum(finished_results(job) is not None for job in folder.iterdir() if job.is_dir())


def _call_app(args: list[str]) -> int:
    """``python -m benign_lightning ARGS`` in this process; its exit status (a job's exception, which
    Hydra raises after the sweep's other jobs, is status 1, as the command's traceback would be)."""
    from hydra.core.global_hydra import GlobalHydra

    from benign_lightning.__main__ import main

    saved = sys.argv
    sys.argv = ["benign_lightning", *args]
    GlobalHydra.instance().clear()
    try:
        main()
        return 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else int(e.code is not None)
    except Exception as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 1
    finally:
        sys.argv = saved
        GlobalHydra.instance().clear()


def run_sweeps(
    entry: Entry, scale: str, overrides: list[str], out: Path, in_process: bool = False
) -> dict[str, Path]:
    """Run each sweep (jobs already finished are skipped by the app); return sweep → folder. A sweep
    whose app call fails is reported and the others still run. Each sweep is its own ``python -m
    benign_lightning`` process (a fresh interpreter, as a user's command), or with ``in_process``
    a call of the app in this one (no ~5 s of start-up per sweep: what small scales spend most)."""
    folders = {}
    sweeps = entry.sweeps[scale]
    for i, sweep in enumerate(sweeps, 1):
        folder = sweep_dir(out, entry, scale, sweep)
        folders[sweep.name] = folder
        total, done = job_count(sweep, overrides), finished(folder)
        print(
            f"[{entry.name} {scale}] sweep {i}/{len(sweeps)} '{sweep.name}': {total} jobs, {done} finished, "
            f"{max(0, total - done)} to run",
            flush=True,
        )
        if done >= total:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        args = app_args(sweep, overrides, folder)
        here = in_process and one_process(sweep, overrides)
        if in_process and not here:
            print(f"[{entry.name} {scale}] sweep '{sweep.name}' runs DDP: as its own process, not in-process",
                  flush=True)  # fmt: skip
        status = _call_app(args) if here else subprocess.run([*APP, *args], check=False).returncode
        if status != 0:
            print(
                f"[{entry.name} {scale}] sweep '{sweep.name}' ended with status {status}; its finished jobs "
                "are reported",
                file=sys.stderr,
                flush=True,
            )
        print(
            f"[{entry.name} {scale}] sweep '{sweep.name}': {finished(folder)} of {total} jobs finished",
            flush=True,
        )
    return folders
