"""The results contract: what every run folder holds, written atomically, and how to read it back.

run_dir/
  results.json           metrics (written last: its presence marks a finished run)
  noise.npz              indices, clean_labels, noisy_labels, dataset_index
  predictions.npz        train_pred, test_pred, test_labels, test_adv_correct (at eps); heldout_pred
                         (with data.holdout)
  config.yaml            the resolved config
  env.json               versions, device, host, command line
  memorization.npz       per training point: when it was fit (callbacks/memorization.py)
  checkpoints/last.ckpt  Lightning checkpoint (the model spec is in its hyper-parameters)
  checkpoints/best.ckpt  with early_stopping: the epoch of lowest held-out adversarial error

An ensemble job (``ensemble.size=N``, run/ensemble.py) writes one such folder per member,
``member_<k>/``, and a ``results.json`` of ``status: ensemble`` naming them.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from benign_lightning.models import build_model
from benign_lightning.plumbing.io import atomic_savez, atomic_write_json, atomic_write_text

LAST_CKPT = Path("checkpoints") / "last.ckpt"
BEST_CKPT = Path("checkpoints") / "best.ckpt"
TABLE_KEYS = (
    "natural_err",
    "adv_err",
    "train_err",
    "noisy_fit",
    "noise_detect_precision",
    "noise_detect_recall",
)


def run_identity(cfg: DictConfig, datamodule: Any, method_name: str) -> dict[str, Any]:
    """The head of every ``results.json``: what ran, on what, with which seeds."""
    return {
        "status": "complete",
        "name": cfg.name,
        "data": datamodule.name,
        "label_set": getattr(datamodule, "label_set", None),
        "method": method_name,
        "arch": cfg.arch,
        # The datamodule's: noise_mode=human reports the file's rate over the training rows.
        "eta": float(getattr(datamodule, "eta", cfg.eta)),
        "noise_mode": getattr(datamodule, "noise_mode", None),
        # Fine2Coarse's read-out (sum or max of the fine logits), where the model has one.
        "coarse_rule": str(cfg.get("coarse_rule", "sum")) if getattr(datamodule, "fine2coarse", 0) else None,
        "eps": float(cfg.eps),
        "seed": int(cfg.seed),
        "data_seed": int(cfg.data_seed),
        # The global batch (data.batch_size), and each DDP rank's share of it.
        "batch_size": getattr(datamodule, "batch_size", None),
        "batch_size_per_rank": getattr(datamodule, "rank_batch_size", None),
    }


def finished_results(run_dir: str | Path) -> dict[str, Any] | None:
    """The results of a run folder that finished (a single run's ``status: complete``, or an
    ensemble job's ``status: ensemble``), else None (``skip_complete`` and ``reproduce`` use it)."""
    path = Path(run_dir) / "results.json"
    if not path.exists():
        return None
    try:
        results = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    return results if results.get("status") in ("complete", "ensemble") else None


def write_results(run_dir: str | Path, results: dict[str, Any]) -> Path:
    return atomic_write_json(Path(run_dir) / "results.json", results)


def read_results(run_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / "results.json").read_text())


def write_config(run_dir: str | Path, cfg: DictConfig) -> Path:
    return atomic_write_text(Path(run_dir) / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))


def write_run_record(run_dir: str | Path, cfg: DictConfig, datamodule: Any) -> None:
    """What every run records before it trains: its config, its environment (with the data files
    read) and its noise mask."""
    write_config(run_dir, cfg)
    write_env(run_dir, {**environment(), "data_files": datamodule.file_report})
    datamodule.save_noise(Path(run_dir) / "noise.npz")


def write_predictions(run_dir: str | Path, arrays: dict[str, np.ndarray], datamodule: Any) -> Path:
    """``predictions.npz``; a cross-validation fold's held-out probabilities go to ``pred_probs.npz``
    (``write_pred_probs``) instead."""
    arrays = dict(arrays)
    probs = arrays.pop("heldout_probs", None)
    if probs is not None and getattr(datamodule, "cv_folds", None):
        write_pred_probs(run_dir, datamodule, probs)
    return atomic_savez(Path(run_dir) / "predictions.npz", **arrays)


def write_pred_probs(run_dir: str | Path, datamodule: Any, probs: np.ndarray) -> Path:
    """``pred_probs.npz`` of a K-fold cross-validation run (``data.cv_folds``): the out-of-sample
    class probabilities of the held-out fold's rows, with their dataset index and given (noisy)
    label. The K folds' files, joined, are what confident learning needs (``detect.py``)."""
    held = datamodule.heldout_mask
    return atomic_savez(
        Path(run_dir) / "pred_probs.npz",
        dataset_index=datamodule.train_index[held],
        labels=datamodule.noise.noisy_labels[held],
        pred_probs=probs.astype(np.float32),
        fold=np.int64(datamodule.cv_fold),
        cv_folds=np.int64(datamodule.cv_folds),
    )


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """What a reader needs to reproduce the run: versions, device, host and command line."""
    dists = ("benign_lightning", "torch", "torchvision", "pytorch-lightning", "hydra-core", "numpy")
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "argv": sys.argv,
        "versions": {d: _version(d) for d in dists},
        "cuda_available": torch.cuda.is_available(),
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_num_threads": torch.get_num_threads(),
        "cpu": cpu_record(),
        "slurm": {k.removeprefix("SLURM_").lower(): os.environ[k] for k in SLURM_ENV if k in os.environ},
    }


def cpu_record() -> dict[str, Any]:
    """The CPU and the kernels torch uses on it: runs that memorise noise differ across CPUs of the
    same family (a rounding in one matmul flips a fitted point), so a result is read with its CPU's
    model, instruction set and BLAS."""
    model, flags = platform.processor() or None, []
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in (None, "", platform.machine()):
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = sorted(f for f in value.split() if f.startswith(("avx", "amx", "fma", "sse4")))
    build = dict(item.split("=", 1) for item in _build_settings().split(", ") if "=" in item)
    return {
        "model": model,
        "isa_flags": flags,
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
        "blas": build.get("BLAS_INFO"),
        "lapack": build.get("LAPACK_INFO"),
        "cores": os.cpu_count(),
    }


def _build_settings() -> str:
    """torch's "Build settings:" line (``torch.__config__.show()``)."""
    for line in torch.__config__.show().splitlines():
        if "Build settings:" in line:
            return line.split("Build settings:", 1)[1].strip()
    return ""


# Which SLURM job (and which attempt of it: a requeued job counts restarts) made the run.
SLURM_ENV = (
    "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT", "SLURM_JOB_PARTITION",
    "SLURM_JOB_NODELIST", "SLURM_NTASKS",
)  # fmt: skip


def adv_err_curve(results: dict[str, Any]) -> list[tuple[float, float]]:
    """``adv_err_by_eps`` as (ε, adversarial error) points in increasing ε."""
    return sorted((float(eps), err) for eps, err in results.get("adv_err_by_eps", {}).items())


def write_env(run_dir: str | Path, env: dict[str, Any]) -> Path:
    return atomic_write_json(Path(run_dir) / "env.json", env)


class NoNetwork(ValueError):
    """A run of a closed-form classifier: there are no weights to load."""


def evaluated_checkpoint(run_dir: str | Path) -> Path:
    """The checkpoint a run evaluated: ``results.json["evaluated_checkpoint"]`` (``best.ckpt`` when
    early stopping restored it), else ``last.ckpt``; a closed-form classifier's (null) raises
    ``NoNetwork``."""
    results_file = Path(run_dir) / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    if "evaluated_checkpoint" in results and results["evaluated_checkpoint"] is None:
        raise NoNetwork(f"{run_dir} is a closed-form classifier ({results.get('method')}), not a network")
    return Path(run_dir) / (results.get("evaluated_checkpoint") or LAST_CKPT)


def load_model_and_spec(
    run_dir: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """``load_model``'s module, and the ``build_model`` arguments that built it (its ``model_spec``)."""
    ckpt_path = evaluated_checkpoint(run_dir)
    if not ckpt_path.exists():
        raise FileNotFoundError(
            f"no checkpoint at {ckpt_path}; is {run_dir} a benign_lightning run folder of a network "
            "(a closed-form classifier has none)?"
        )
    ckpt = torch.load(ckpt_path, map_location=map_location, weights_only=True)
    spec = dict(ckpt["hyper_parameters"]["model_spec"])
    model = build_model(**spec)
    model.load_state_dict(_model_state(ckpt))
    return model.eval(), spec


def load_model(run_dir: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """The trained ``nn.Module`` of a run, in eval mode: [0, 1] inputs in, logits out. These are the
    weights the run evaluated (``evaluated_checkpoint``)."""
    return load_model_and_spec(run_dir, map_location)[0]


def load_state_dict(ckpt_path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The ``nn.Module`` state dict inside a Lightning checkpoint of a method."""
    return _model_state(torch.load(ckpt_path, map_location=map_location, weights_only=True))


def _model_state(ckpt: dict[str, Any]) -> dict[str, Any]:
    return {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def format_table(results: dict[str, Any]) -> str:
    """A short text table of the headline errors, printed at the end of every run."""
    head = (
        f"{results['name']}: {results['data']}, {results['arch']}, {results['method']}, "
        f"eta={results['eta']:g}, eps={results['eps']:.4g}, seed={results['seed']}, "
        f"{results['epochs']} epochs, {results['wall_s']:.1f} s"
    )
    rows = [(k, _fmt(results.get(k))) for k in TABLE_KEYS]
    rows.append(
        (
            "train errors (mislabelled)",
            f"{results['n_train_errors']} ({results['n_train_errors_mislabelled']})",
        )
    )
    width = max(len(k) for k, _ in rows)
    lines = [head, "-" * len(head)] + [f"{k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines)
