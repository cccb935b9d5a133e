"""A run of a closed-form classifier (``exact.ExactClassifier``: 1-NN, union of intervals, parity):
the same folder contract as a network's run (config, env, noise, predictions, results.json, the
figures), without a Trainer, and with exact adversarial errors in place of an attack's."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from benign_lightning.analysis.figures import figures_enabled, write_run_figures
from benign_lightning.analysis.planar import planar_results
from benign_lightning.data.base import LabelNoiseDataModule
from benign_lightning.data.planar import PlanarDataModule
from benign_lightning.evaluation.evaluate import eps_key, error_rate, noise_fit_stats
from benign_lightning.results import (
    run_identity,
    write_predictions,
    write_results,
    write_run_record,
)
from benign_lightning.run.builders import build_exact, eval_grid


def _arrays(split) -> tuple[np.ndarray, np.ndarray]:
    return split.x.cpu().numpy(), split.y.cpu().numpy()


def run_exact(cfg: DictConfig, run_dir: Path, datamodule: LabelNoiseDataModule) -> dict[str, Any]:
    """Fit, evaluate exactly, write the run folder; return the results."""
    start = time.perf_counter()
    classifier = build_exact(cfg, datamodule)
    datamodule.prepare_data()
    datamodule.setup("fit")
    write_run_record(run_dir, cfg, datamodule)

    x_train, y_train = _arrays(datamodule.train)
    x_test, y_test = _arrays(datamodule.test)
    classifier.fit(x_train, y_train)
    train_pred, test_pred = classifier.predict(x_train), classifier.predict(x_test)
    natural_correct = torch.from_numpy(test_pred == y_test)
    wrong = classifier.adversarially_wrong_by_eps(x_test, y_test, eval_grid(cfg))
    adv_correct = {eps: ~w for eps, w in wrong.items()}
    results: dict[str, Any] = {
        **run_identity(cfg, datamodule, classifier.method_name),
        "arch": classifier.method_name,
        "epochs": 0,
        "device": "cpu",
        "world_size": 1,
        "n_test": len(y_test),
        "natural_err": error_rate(natural_correct),
        "attack": {"name": "exact", "norm": str(cfg.attack.norm), "by": classifier.method_name},
        "evaluated_checkpoint": None,  # a closed-form classifier: no network weights (load_model refuses)
        **noise_fit_stats(train_pred, y_train, datamodule.eval_clean_train_labels.cpu().numpy()),
        "adv_err_by_eps": {eps_key(e): error_rate(torch.from_numpy(c)) for e, c in adv_correct.items()},
        **classifier.summary(),
    }
    results["adv_err"] = results["adv_err_by_eps"][eps_key(cfg.eps)]
    if isinstance(datamodule, PlanarDataModule):
        title = f"{cfg.name}: {classifier.method_name}, {datamodule.name}, eta={cfg.eta}"
        results.update(planar_results(classifier.predict, datamodule, train_pred, run_dir, title, None,
                                      str(cfg.attack.norm)))  # fmt: skip
    results["wall_s"] = round(time.perf_counter() - start, 3)
    write_predictions(run_dir, {"train_pred": train_pred, "test_pred": test_pred, "test_labels": y_test,
                                "test_adv_correct": adv_correct[float(cfg.eps)]}, datamodule)  # fmt: skip
    if figures_enabled(cfg, wandb=False):  # no logger: a closed-form fit has no curves to log
        write_run_figures(run_dir, results)
    write_results(run_dir, results)
    return results
