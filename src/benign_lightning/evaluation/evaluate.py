"""One evaluation for every method: natural error, adversarial error over an ε grid, and how much of
the label noise the model fits (§3.1, §3.2). Every metric is named here and nowhere else.

Under DDP every rank evaluates one slice of each split and the slices are gathered, so each example
is evaluated exactly once (``plumbing/distributed.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from benign_lightning.attacks import eval_mode
from benign_lightning.attacks.pgd import BlockSeeds, Seed
from benign_lightning.attacks.spec import AttackSpec
from benign_lightning.data.base import Split, stack_splits, to_unit_interval
from benign_lightning.evaluation.checks import CHECK_POINTS, run_checks
from benign_lightning.plumbing.distributed import dist_rank_world, gather_objects, gather_rows, my_shard


@contextmanager
def exact_fp32() -> Iterator[None]:
    """Evaluation's numerics, restored on exit: fp32 matmuls and convolutions without TF32, and
    cuDNN's autotuner off.

    TF32 (``set_float32_matmul_precision("high")`` for training speed, and cuDNN's default for
    convolutions on Ampere and Hopper) rounds inputs to a 10-bit mantissa: steps of 2^-11 near 1.0,
    below one PGD step at the smallest eps of the CIFAR grid, the same argument that keeps
    evaluation out of bf16. The autotuner (``trainer.benchmark``, on with ``speed=fast``) would tune
    every new input shape again, and early-stopped PGD shrinks its batch at almost every step; off,
    cuDNN takes its heuristic choice at once. (Padding the batches to a few fixed sizes would keep
    the tuning but attack rows that are no longer there.)

    The project sets TF32 with torch's legacy flags (``run.set_float32_precision``), which
    Lightning's own check reads. Where other code has used torch's newer per-backend API
    (``fp32_precision``), reading the legacy flags raises; the newer API is saved and set then."""
    cudnn = torch.backends.cudnn
    benchmark = cudnn.benchmark
    saved = _tf32_state()
    _set_tf32_state(None if saved[0] == "legacy" else ("new", ("ieee",) * len(NEW_TF32_FLAGS)))
    cudnn.benchmark = False
    try:
        yield
    finally:
        _set_tf32_state(saved)
        cudnn.benchmark = benchmark


# torch's per-backend fp32 precision (``torch.backends.<backend>.fp32_precision``): "ieee" is exact.
NEW_TF32_FLAGS = (("cuda", "matmul"), ("cudnn", "conv"), ("cudnn", "rnn"))


def _tf32_state() -> tuple[str, tuple]:
    """``("legacy", (matmul precision, matmul allow_tf32, cuDNN allow_tf32))``, or, once the newer
    API is in use, ``("new", the fp32_precision of each of NEW_TF32_FLAGS)``."""
    backends = torch.backends
    try:
        precision = torch.get_float32_matmul_precision()
        return "legacy", (precision, backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32)
    except RuntimeError:  # "you have used mix of the legacy and new APIs"
        return "new", tuple(getattr(getattr(backends, a), b).fp32_precision for a, b in NEW_TF32_FLAGS)


def _set_tf32_state(state: tuple[str, tuple] | None) -> None:
    """Restore a ``_tf32_state``; None: exact fp32 through the legacy flags."""
    backends = torch.backends
    if state is None:
        torch.set_float32_matmul_precision("highest")
        backends.cuda.matmul.allow_tf32 = backends.cudnn.allow_tf32 = False
    elif state[0] == "legacy":
        torch.set_float32_matmul_precision(state[1][0])  # (it sets matmul's allow_tf32 too: restored next)
        backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32 = state[1][1:]
    else:
        for (a, b), value in zip(NEW_TF32_FLAGS, state[1], strict=True):
            getattr(getattr(backends, a), b).fp32_precision = value


def eps_grid(eval_eps: Iterable[float], eps: float) -> list[float]:
    """Every ε evaluated: ``eval_eps`` and the headline ``eps``, sorted, once each."""
    return sorted({float(e) for e in eval_eps} | {float(eps)})


def eps_key(eps: float) -> str:
    """The string form of an ε used as a key in ``adv_err_by_eps`` (``str(float(eps))``)."""
    return str(float(eps))


def answering(model: nn.Module, split: Split, rows: torch.Tensor | slice | None = None) -> nn.Module:
    """The model that answers ``split``'s rows ``rows`` (all by default): ``model`` itself, or for an
    ensemble's stacked split (``Split.member``) the members those rows belong to."""
    if split.member is None:
        return model
    return model.rows(split.member if rows is None else split.member[rows])


@torch.no_grad()  # (on a generator, torch re-enters no_grad around each step)
def _logit_batches(model: nn.Module, split: Split, batch_size: int) -> Iterator[torch.Tensor]:
    """The logits of ``split``'s rows batch by batch, in order (eval mode, no gradients)."""
    device = model_device(model)
    with eval_mode(model):
        for start in range(0, len(split), batch_size):
            part = split[start : start + batch_size]
            yield answering(model, part)(to_unit_interval(part.x).to(device))


def predict(model: nn.Module, split: Split, batch_size: int) -> torch.Tensor:
    """Predicted class of every example of ``split``, in order (eval mode)."""
    preds = [logits.argmax(1).to(split.y.device) for logits in _logit_batches(model, split, batch_size)]
    return torch.cat(preds) if preds else split.y.new_empty(0)


@exact_fp32()
def predict_logits(model: nn.Module, split: Split, batch_size: int) -> torch.Tensor:
    """The logits (fp32) of every example of ``split``, in order, sharded over the DDP ranks; every
    rank gets every row."""
    shard = split[my_shard(len(split))]
    parts = [logits.float().to(split.y.device) for logits in _logit_batches(model, shard, batch_size)]
    local = torch.cat(parts) if parts else torch.empty(0, 0, device=split.y.device)
    return gather_rows(local, len(split), device=model_device(model))


def label_scores(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per row, how the model scores its given label: ``margin`` (its logit minus the largest other
    one: negative where the model predicts another class) and ``loss`` (cross-entropy). Noise
    detection ranks training points by them (``detect.py``)."""
    given = logits.gather(1, labels[:, None]).squeeze(1)
    others = logits.scatter(1, labels[:, None], float("-inf")).amax(1)
    loss = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    return {"margin": given - others, "loss": loss}


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters live: splits held elsewhere (e.g. on the host for the
    DataLoader path) are moved there batch by batch."""
    return next(model.parameters()).device


@exact_fp32()
def predict_all(model: nn.Module, split: Split, batch_size: int) -> torch.Tensor:
    """``predict`` sharded over the DDP ranks; every rank gets every prediction."""
    local = predict(model, split[my_shard(len(split))], batch_size)
    return gather_rows(local, len(split), device=model_device(model))


def adversarially_correct(
    model: nn.Module,
    split: Split,
    *,
    eps: float,
    attack: AttackSpec,
    natural_correct: torch.Tensor | None = None,
    seed: int | Sequence[int] = 0,
) -> torch.Tensor:
    """Per example: is it still classified correctly after ``attack`` at ``eps``?

    Only the points of ``natural_correct`` are attacked (by default: the naturally correct ones;
    the others are adversarial errors without an attack). An ensemble's stacked split takes one
    seed per member.
    """
    if natural_correct is None:
        natural_correct = predict(model, split, attack.batch_size) == split.y
    result = natural_correct.clone()
    if eps == 0:
        return result
    targets = torch.nonzero(natural_correct).flatten()
    device = model_device(model)
    for idx, batch_seed in _attack_batches(targets, split.member, seed, attack.batch_size):
        x = split.inputs(idx).to(device)
        y = split.y[idx].to(device)
        rows_model = answering(model, split, idx)
        x_adv = attack(rows_model, x, y, eps=eps, seed=batch_seed)
        with torch.no_grad(), eval_mode(model), torch.autocast(device.type, enabled=False):
            result[idx] = (rows_model(x_adv).argmax(1) == y).to(result.device)
    return result


def _attack_batches(
    targets: torch.Tensor, member: torch.Tensor | None, seed: int | Sequence[int], batch_size: int
) -> Iterator[tuple[torch.Tensor, Seed]]:
    """``(rows, seed)`` per attack batch: ``batch_size`` consecutive targets, batch b seeded
    ``seed + b``. On an ensemble's stacked split batch b holds batch b of every member's targets
    side by side, member k's rows seeded ``seed[k] + b``: what member k's single run attacks, with
    the starts it draws."""
    if member is None:
        for batch_no, start in enumerate(range(0, len(targets), batch_size)):
            yield targets[start : start + batch_size], int(seed) + batch_no
        return
    owner = member[targets]
    per_member = [targets[owner == k] for k in range(len(seed))]
    n_batches = max((-(-len(t) // batch_size) for t in per_member), default=0)
    for batch_no in range(n_batches):
        parts = [t[batch_no * batch_size : (batch_no + 1) * batch_size] for t in per_member]
        sizes = tuple(len(part) for part in parts)
        yield torch.cat(parts), BlockSeeds(tuple(int(s) + batch_no for s in seed), sizes)


def rank_seed(seed: int | Sequence[int]) -> int | list[int]:
    """``seed`` for this DDP rank's shard: offset by the rank times a prime, so no two ranks draw
    their attack's random starts from one stream (an ensemble's seeds, one per member, alike)."""
    by = 7919 * dist_rank_world()[0]
    return int(seed) + by if isinstance(seed, int) else [int(s) + by for s in seed]


@exact_fp32()
def adversarially_correct_all(
    model: nn.Module, split: Split, *, natural_correct: torch.Tensor, seed: int | Sequence[int] = 0,
    **kwargs: Any,
) -> torch.Tensor:  # fmt: skip
    """``adversarially_correct`` sharded over the DDP ranks; every rank gets the whole result."""
    rows = my_shard(len(split))
    local = adversarially_correct(
        model, split[rows], natural_correct=natural_correct[rows], seed=rank_seed(seed), **kwargs
    )
    return gather_rows(local, len(split), device=model_device(model))


def adversarial_grid(
    model: nn.Module,
    split: Split,
    *,
    grid: Iterable[float],
    attack: AttackSpec,
    natural_correct: torch.Tensor,
    envelope_only: bool = False,
    seed: int | Sequence[int] = 0,
) -> tuple[dict[float, torch.Tensor], dict[float, torch.Tensor] | None]:
    """Correctness under attack at each ε of ``grid``: ``(envelope, raw)``.

    The grid is attacked in increasing ε. A point broken at some ε is broken at every larger ε of
    the same norm (its adversarial example lies in the larger ball too), so the *envelope* at ε
    counts as broken every point broken at any ε' ≤ ε: it is monotone and never lowers a point's
    error. *raw* is each ε attacked on its own, on every naturally correct point; a raw curve that is
    not monotone says the attack is weak somewhere (``evaluation/checks.py``). With ``envelope_only`` only
    the points still robust are attacked at the next ε (faster; no raw curve).
    """
    envelope: dict[float, torch.Tensor] = {}
    raw: dict[float, torch.Tensor] | None = None if envelope_only else {}
    robust = natural_correct
    for e in sorted({float(e) for e in grid}):
        targets = robust if envelope_only else natural_correct
        correct = adversarially_correct_all(
            model, split, eps=e, attack=attack, natural_correct=targets, seed=seed
        )
        if raw is not None:
            raw[e] = correct
        robust = robust & correct
        envelope[e] = robust
    return envelope, raw


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


@torch.no_grad()
def _n_classes(model: nn.Module, split: Split) -> int:
    x = split.inputs(torch.arange(1, device=split.y.device)).to(model_device(model))
    with eval_mode(model):
        return int(model(x).shape[1])


def _checks(
    model: nn.Module, test: Split, natural_correct: torch.Tensor, attack: AttackSpec, eps: float, *,
    raw_curve: dict[str, float] | None, level: str, large_eps: float | None, seed: int,
) -> list[dict[str, Any]]:  # fmt: skip
    """``checks.run_checks`` on the first ``CHECK_POINTS`` test points (every rank runs them
    alike, so they need no gathering)."""
    if level == "none":
        return []
    rows = slice(0, min(len(test), CHECK_POINTS))
    points, correct = test[rows], natural_correct[rows]
    device = model_device(model)

    def attack_error(e: float, spec: AttackSpec) -> float:
        return error_rate(adversarially_correct(model, points, eps=e, attack=spec, natural_correct=correct,
                                                seed=seed))  # fmt: skip

    x = points.inputs(torch.arange(len(points), device=points.y.device)).to(device)
    return run_checks(model, x, points.y.to(device), attack=attack, attack_error=attack_error, eps=eps,
                      raw=raw_curve, level=level, large=large_eps)  # fmt: skip


@dataclass
class Outcomes:
    """Per row: the predictions on the training and test splits, and the test points still correct
    under attack at each ε (``envelope``; ``raw``: each ε attacked on its own)."""

    train_pred: torch.Tensor
    test_pred: torch.Tensor
    natural_correct: torch.Tensor
    envelope: dict[float, torch.Tensor]
    raw: dict[float, torch.Tensor] | None
    train_scores: dict[str, torch.Tensor]  # label_scores of the training rows

    def rows(self, train_rows: torch.Tensor, test_rows: torch.Tensor) -> Outcomes:
        """The outcomes of some rows (an ensemble member's)."""
        raw = {e: c[test_rows] for e, c in self.raw.items()} if self.raw is not None else None
        envelope = {e: c[test_rows] for e, c in self.envelope.items()}
        test_pred, natural_correct = self.test_pred[test_rows], self.natural_correct[test_rows]
        scores = {k: v[train_rows] for k, v in self.train_scores.items()}
        return Outcomes(self.train_pred[train_rows], test_pred, natural_correct, envelope, raw, scores)


def outcomes(
    model: nn.Module, *, train: Split, test: Split, grid: list[float], attack: AttackSpec, batch_size: int,
    seed: int | Sequence[int], envelope_only: bool,
) -> Outcomes:  # fmt: skip
    """Predict both splits and attack the test split over ``grid`` (fp32)."""
    with torch.autocast(model_device(model).type, enabled=False):
        train_logits = predict_logits(model, train, batch_size)
        test_pred = predict_all(model, test, batch_size)
    train_pred = train_logits.argmax(1).to(train.y.dtype) if len(train) else train.y.new_empty(0)
    natural_correct = test_pred == test.y
    envelope, raw = adversarial_grid(
        model, test, grid=grid, attack=attack, natural_correct=natural_correct,
        envelope_only=envelope_only, seed=seed,
    )  # fmt: skip
    scores = label_scores(train_logits, train.y) if len(train) else {}
    return Outcomes(train_pred, test_pred, natural_correct, envelope, raw, scores)


def summarize(
    model: nn.Module, out: Outcomes, *, train: Split, clean_train_labels: torch.Tensor, test: Split,
    eps: float, attack: AttackSpec, checks: str, large_eps: float | None, seed: int,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:  # fmt: skip
    """The metrics and per-example arrays of one model's outcomes (its checks run here)."""
    shard = my_shard(len(test))
    metrics: dict[str, Any] = {
        "n_test": len(test),
        "natural_err": error_rate(out.natural_correct),
        # The test rows each rank evaluated, as each rank reports them.
        "eval_shards": gather_objects([shard.start, shard.stop]),
        "attack": attack.describe(n_classes=_n_classes(model, test)),
    }
    metrics.update(noise_fit_stats(out.train_pred.cpu().numpy(), train.y.cpu().numpy(),
                                   clean_train_labels.cpu().numpy()))  # fmt: skip
    metrics["adv_err_by_eps"] = {eps_key(e): error_rate(c) for e, c in out.envelope.items()}
    raw = out.raw
    metrics["adv_err_by_eps_raw"] = {eps_key(e): error_rate(c) for e, c in raw.items()} if raw else None
    metrics["adv_err"] = metrics["adv_err_by_eps"][eps_key(eps)]
    metrics["eval_checks"] = _checks(model, test, out.natural_correct, attack, float(eps), raw_curve=metrics[
        "adv_err_by_eps_raw"], level=checks, large_eps=large_eps, seed=seed)  # fmt: skip
    arrays = {
        "train_pred": out.train_pred.cpu().numpy(),
        # The model's margin and loss on each training row's given label (noise detection ranks by them).
        **{f"train_{k}": v.cpu().numpy() for k, v in out.train_scores.items()},
        "test_pred": out.test_pred.cpu().numpy(),
        "test_adv_correct": out.envelope[float(eps)].cpu().numpy(),
        "test_labels": test.y.cpu().numpy(),  # so a reader of the folder can score test_pred
    }
    return metrics, arrays


@exact_fp32()
def evaluate(
    model: nn.Module,
    *,
    train: Split,
    clean_train_labels: torch.Tensor,
    test: Split,
    eps: float,
    eval_eps: Iterable[float],
    attack: AttackSpec,
    batch_size: int,
    seed: int = 0,
    envelope_only: bool = False,
    checks: str = "cheap",
    large_eps: float | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Return ``(metrics, per_example_arrays)`` for a trained model. Evaluation runs in fp32."""
    out = outcomes(model, train=train, test=test, grid=eps_grid(eval_eps, eps), attack=attack,
                   batch_size=batch_size, seed=seed, envelope_only=envelope_only)  # fmt: skip
    return summarize(model, out, train=train, clean_train_labels=clean_train_labels, test=test, eps=eps,
                     attack=attack, checks=checks, large_eps=large_eps, seed=seed)  # fmt: skip


@dataclass
class MemberData:
    """What one ensemble member is evaluated on (its own splits, as its single run's)."""

    train: Split
    clean_train_labels: torch.Tensor
    test: Split
    heldout: Split | None = None


@exact_fp32()
def evaluate_members(
    stacked: nn.Module, members: Sequence[MemberData], *, seeds: Sequence[int], eps: float,
    eval_eps: Iterable[float], attack: AttackSpec, batch_size: int, envelope_only: bool = False,
    checks: str = "cheap", large_eps: float | None = None, stacked_train: Split | None = None,
) -> list[tuple[dict[str, Any], dict[str, np.ndarray]]]:  # fmt: skip
    """``evaluate`` of each member of a ``models.ensemble.StackedModels``: the members' splits are
    stacked and predicted and attacked in one pass (each member on its own rows, with its own seed,
    so member k's numbers are its single run's); the checks run member by member. AutoAttack
    attacks one model at a time, so under it each member is evaluated alone. With held-out rows,
    ``heldout_pred`` (their predictions) joins the arrays. ``stacked_train``: the members' training
    splits already stacked (``data.ensemble.EnsembleDataModule``), so they are not copied again."""
    if attack.name != "pgd":
        per_member = [
            evaluate(stacked.member(k), train=m.train, clean_train_labels=m.clean_train_labels, test=m.test,
                     eps=eps, eval_eps=eval_eps, attack=attack, batch_size=batch_size, seed=int(seeds[k]),
                     envelope_only=envelope_only, checks=checks, large_eps=large_eps)
            for k, m in enumerate(members)
        ]  # fmt: skip
    else:
        train = stacked_train if stacked_train is not None else stack_splits([m.train for m in members])
        test = stack_splits([m.test for m in members])
        out = outcomes(stacked, train=train, test=test, grid=eps_grid(eval_eps, eps), attack=attack,
                       batch_size=batch_size, seed=[int(s) for s in seeds],
                       envelope_only=envelope_only)  # fmt: skip
        per_member = [
            summarize(stacked.member(k), out.rows(train.member == k, test.member == k), train=m.train,
                      clean_train_labels=m.clean_train_labels, test=m.test, eps=eps, attack=attack,
                      checks=checks, large_eps=large_eps, seed=int(seeds[k]))
            for k, m in enumerate(members)
        ]  # fmt: skip
    if members[0].heldout is not None:
        heldout = stack_splits([m.heldout for m in members])
        with torch.autocast(model_device(stacked).type, enabled=False):
            logits = predict_logits(stacked, heldout, batch_size).cpu()
        for k, (_, arrays) in enumerate(per_member):
            arrays.update(heldout_arrays(logits[heldout.member.cpu() == k]))
    return per_member


def heldout_arrays(logits: torch.Tensor) -> dict[str, np.ndarray]:
    """The held-out rows' predictions (``heldout_pred``, for memorization estimates) and class
    probabilities (``heldout_probs``: a cross-validation fold's out-of-sample probabilities, which
    the run writes to ``pred_probs.npz``)."""
    return {"heldout_pred": logits.argmax(1).numpy(), "heldout_probs": logits.softmax(1).numpy()}
