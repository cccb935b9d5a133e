"""One evaluation for every method: natural error, adversarial error over an ε grid, and how much of
the label noise the model fits (§3.1, §3.2). Every metric is named here and nowhere else.

Under DDP every rank evaluates one slice of each split and the slices are gathered, so each example
is evaluated exactly once (``distributed.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from benign_lightning.attacks import eval_mode, pgd
from benign_lightning.data.base import Split
from benign_lightning.distributed import dist_rank_world, gather_objects, gather_rows, my_shard


def eps_key(eps: float) -> str:
    """The string form of an ε used as a key in ``adv_err_by_eps`` (``str(float(eps))``)."""
    return str(float(eps))


@torch.no_grad()
def predict(model: nn.Module, split: Split, batch_size: int) -> torch.Tensor:
    """Predicted class of every example of ``split``, in order (eval mode)."""
    device = model_device(model)
    with eval_mode(model):
        preds = [model(x.to(device)).argmax(1).to(split.y.device) for x, _ in split.batches(batch_size)]
    return torch.cat(preds) if preds else split.y.new_empty(0)


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters live: splits held elsewhere (e.g. on the host for the
    DataLoader path) are moved there batch by batch."""
    return next(model.parameters()).device


def predict_all(model: nn.Module, split: Split, batch_size: int) -> torch.Tensor:
    """``predict`` sharded over the DDP ranks; every rank gets every prediction."""
    return gather_rows(predict(model, split[my_shard(len(split))], batch_size), len(split))


def adversarially_correct(
    model: nn.Module,
    split: Split,
    *,
    eps: float,
    batch_size: int,
    natural_correct: torch.Tensor | None = None,
    seed: int = 0,
    **attack: Any,
) -> torch.Tensor:
    """Per example: is it still classified correctly after the PGD attack at ``eps``?

    Points already misclassified are adversarial errors without an attack, so only the naturally
    correct ones are attacked.
    """
    if natural_correct is None:
        natural_correct = predict(model, split, batch_size) == split.y
    result = natural_correct.clone()
    targets = torch.nonzero(natural_correct).flatten()
    device = model_device(model)
    for batch_no, start in enumerate(range(0, len(targets), batch_size)):
        idx = targets[start : start + batch_size]
        x = split.inputs(idx).to(device)
        y = split.y[idx].to(device)
        x_adv = pgd(model, x, y, eps=eps, seed=seed + batch_no, **attack)
        with torch.no_grad(), eval_mode(model):
            result[idx] = (model(x_adv).argmax(1) == y).to(result.device)
    return result


def adversarially_correct_all(
    model: nn.Module, split: Split, *, natural_correct: torch.Tensor, seed: int = 0, **kwargs: Any
) -> torch.Tensor:
    """``adversarially_correct`` sharded over the DDP ranks; every rank gets the whole result."""
    rows = my_shard(len(split))
    rank, _ = dist_rank_world()
    local = adversarially_correct(
        model, split[rows], natural_correct=natural_correct[rows], seed=seed + 7919 * rank, **kwargs
    )
    return gather_rows(local, len(split))


def error_rate(correct: torch.Tensor) -> float:
    """Fraction of False in a boolean tensor, as an exact ratio of counts."""
    return (len(correct) - int(correct.sum())) / len(correct)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def noise_fit_stats(train_pred: np.ndarray, noisy: np.ndarray, clean: np.ndarray) -> dict[str, Any]:
    """How much of the noise is fit, and how well "training error" detects the corrupted points.

    A point is *corrupted* when its noisy label differs from its clean one.
    """
    corrupted = noisy != clean
    train_wrong = train_pred != noisy
    hits = int((train_wrong & corrupted).sum())
    return {
        "n_train": int(len(noisy)),
        "train_err": float(train_wrong.mean()) if len(noisy) else None,
        "train_err_clean_labels": float((train_pred != clean).mean()) if len(noisy) else None,
        "n_train_errors": int(train_wrong.sum()),
        "n_train_errors_mislabelled": hits,
        "n_noisy": int(corrupted.sum()),
        # Fraction of corrupted points whose *noisy* label the model predicts: noise memorised.
        "noisy_fit": _ratio(int((train_pred[corrupted] == noisy[corrupted]).sum()), int(corrupted.sum())),
        "noise_detect_precision": _ratio(hits, int(train_wrong.sum())),
        "noise_detect_recall": _ratio(hits, int(corrupted.sum())),
    }


def evaluate(
    model: nn.Module,
    *,
    train: Split,
    clean_train_labels: torch.Tensor,
    test: Split,
    eps: float,
    eval_eps: Iterable[float],
    attack: Mapping[str, Any],
    batch_size: int,
    seed: int = 0,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Return ``(metrics, per_example_arrays)`` for a trained model."""
    train_pred = predict_all(model, train, batch_size)
    test_pred = predict_all(model, test, batch_size)
    natural_correct = test_pred == test.y
    shard = my_shard(len(test))
    metrics: dict[str, Any] = {
        "n_test": len(test),
        "natural_err": error_rate(natural_correct),
        # The test rows each rank evaluated, as each rank reports them.
        "eval_shards": gather_objects([shard.start, shard.stop]),
    }
    metrics.update(
        noise_fit_stats(train_pred.cpu().numpy(), train.y.cpu().numpy(), clean_train_labels.cpu().numpy())
    )
    grid = sorted({float(e) for e in eval_eps} | {float(eps)})
    adv_correct_by_eps = {
        e: adversarially_correct_all(
            model, test, eps=e, batch_size=batch_size, natural_correct=natural_correct, seed=seed, **attack
        )
        for e in grid
    }
    metrics["adv_err_by_eps"] = {eps_key(e): error_rate(c) for e, c in adv_correct_by_eps.items()}
    metrics["adv_err"] = metrics["adv_err_by_eps"][eps_key(eps)]
    arrays = {
        "train_pred": train_pred.cpu().numpy(),
        "test_pred": test_pred.cpu().numpy(),
        "test_adv_correct": adv_correct_by_eps[float(eps)].cpu().numpy(),
    }
    return metrics, arrays
