"""Ensemble speed: one ``ensemble.size=N`` job against N single runs of the same work, side by side.

The workload is the toy-MNIST job (the default run: §3.1's recipe, trained until zero training
error, then PGD-100 with 5 restarts at eps = 64/255) or whatever ``--override`` makes of it. Both
sides run in this process through ``benign_lightning.run.job.run`` (no interpreter start-up on either
side); ``--processes`` also times them as a sweep runs them, one ``python -m benign_lightning``
process per single run against one process for the ensemble. Every member's numbers are compared
with its single run's.

    python scripts/ensemble_bench.py --members 8 --repeats 3 --json bench/cpu_ensemble_8.json
    python scripts/ensemble_bench.py --members 64 --device cuda --repeats 1 --json bench/gpu/ens.json

The repeats alternate which side goes first; medians and the ratio of medians are reported.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

from benign_lightning.run.job import run, set_float32_precision

_QUIET = ["progress=none", "logger=none", "trainer.enable_progress_bar=false"]
_COMPARED = ("natural_err", "adv_err", "train_err", "epochs")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=8, help="ensemble size N (default 8)")
    p.add_argument("--repeats", type=int, default=3, help="ensemble/singles pairs to time (default 3)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--processes", action="store_true", help="also time one CLI process per run")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE", help="a Hydra override")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here")
    return p.parse_args(argv)


def _overrides(args: argparse.Namespace) -> list[str]:
    accelerator = "gpu" if args.device == "cuda" else "cpu"
    return [*_QUIET, f"trainer.accelerator={accelerator}", *args.override]


def _cfg(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_module("benign_lightning.conf", version_base="1.3"):
        return compose("config", overrides=overrides)


def time_ensemble(overrides: list[str], n: int, folder: Path) -> tuple[float, list[dict[str, Any]]]:
    start = time.perf_counter()
    job = run(_cfg([*overrides, f"ensemble.size={n}", "seed=0"]), folder)
    return time.perf_counter() - start, job["member_results"]


def time_singles(overrides: list[str], n: int, folder: Path) -> tuple[float, list[dict[str, Any]]]:
    start, results = time.perf_counter(), []
    for k in range(n):
        results.append(run(_cfg([*overrides, f"seed={k}"]), folder / f"seed_{k}"))
    return time.perf_counter() - start, results


def time_processes(overrides: list[str], n: int, folder: Path) -> tuple[float, float]:
    """(one process for the ensemble, n processes one after the other), in seconds."""

    def cli(*extra: str, where: Path) -> None:
        cmd = [sys.executable, "-m", "benign_lightning", *overrides, *extra, f"hydra.run.dir={where}"]
        subprocess.run(cmd, check=True, capture_output=True, timeout=3600)

    start = time.perf_counter()
    cli(f"ensemble.size={n}", "seed=0", where=folder / "ensemble")
    ensemble = time.perf_counter() - start
    start = time.perf_counter()
    for k in range(n):
        cli(f"seed={k}", where=folder / f"single_{k}")
    return ensemble, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    set_float32_precision()
    overrides, n = _overrides(args), args.members
    ensemble_s, singles_s, same = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            sides = [("ensemble", time_ensemble), ("singles", time_singles)]
            for name, timer in sides if r % 2 == 0 else sides[::-1]:
                seconds, results = timer(overrides, n, Path(tmp) / f"{name}_{r}")
                (ensemble_s if name == "ensemble" else singles_s).append(seconds)
                if name == "ensemble":
                    members = results
                else:
                    singles = results
                print(f"repeat {r}: {name} {seconds:.1f} s", flush=True)
            same.append([{k: m[k] == s[k] for k in _COMPARED} for m, s in zip(members, singles, strict=True)])
        processes = time_processes(overrides, n, Path(tmp) / "cli") if args.processes else None
    ratio = statistics.median(singles_s) / statistics.median(ensemble_s)
    out = {
        "members": n,
        "device": args.device,
        "overrides": overrides,
        "ensemble_s": [round(s, 2) for s in ensemble_s],
        "singles_s": [round(s, 2) for s in singles_s],
        "speedup_in_process": round(ratio, 3),
        "members_equal_to_singles": same[-1],
    }
    print(f"{n} members: ensemble median {statistics.median(ensemble_s):.1f} s, {n} single runs "
          f"{statistics.median(singles_s):.1f} s: {ratio:.2f}x")  # fmt: skip
    if processes is not None:
        out["processes_s"] = {"ensemble": round(processes[0], 2), "singles": round(processes[1], 2)}
        out["speedup_processes"] = round(processes[1] / processes[0], 3)
        print(f"as processes: ensemble {processes[0]:.1f} s, {n} processes {processes[1]:.1f} s: "
              f"{processes[1] / processes[0]:.2f}x")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
