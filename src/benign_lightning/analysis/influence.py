"""Zhang & Feldman (2020)'s memorization and influence estimates from an ensemble job's runs, and
Figure 5 (§3.2). The command and the estimator's definition: ``benign_lightning/influence.py``."""


from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benign_lightning.analysis.figures import Curve, plot_fraction_above
from benign_lightning.plumbing.io import atomic_savez, atomic_write_json

# Above this many (train, test) pairs only each test point's top-k influences are kept.
FULL_MATRIX_MAX = 50_000_000
TOP_K = 10


@dataclass
class Member:
    """One model's outcomes on every training row (in or out of its subset) and test point."""

    dataset_index: np.ndarray
    labels: np.ndarray  # the training labels (noisy where corrupted)
    clean_labels: np.ndarray
    in_subset: np.ndarray
    train_correct: np.ndarray  # per row: predicts its training label
    test_correct: np.ndarray
    record: dict[str, np.ndarray] = field(default_factory=dict)  # memorization.npz, if any


def read_member(run_dir: Path) -> Member:
    """A run folder's outcomes on all its rows: ``train_pred`` for the rows it trained on,
    ``heldout_pred`` for the held-out ones."""
    noise, pred = np.load(run_dir / "noise.npz"), np.load(run_dir / "predictions.npz")
    held = noise["heldout"].astype(bool)
    row_pred = np.empty(len(held), dtype=np.int64)
    row_pred[~held] = pred["train_pred"]
    if held.any():
        if "heldout_pred" not in pred.files:
            raise ValueError(f"{run_dir}: held-out rows but no heldout_pred in predictions.npz")
        row_pred[held] = pred["heldout_pred"]
    if "test_labels" not in pred.files:
        raise ValueError(f"{run_dir}: predictions.npz has no test_labels (a run from before they were saved)")
    record_file = run_dir / "memorization.npz"
    record = dict(np.load(record_file)) if record_file.exists() else {}
    labels = noise["noisy_labels"]
    return Member(noise["dataset_index"], labels, noise["clean_labels"], ~held, row_pred == labels,
                  pred["test_pred"] == pred["test_labels"], record)  # fmt: skip


def member_dirs(job_dir: Path) -> list[Path]:
    """The run folders of an ensemble job (``member_<k>/``) or of a folder of runs, in order."""
    found = sorted(job_dir.glob("member_*/results.json"), key=lambda p: int(p.parent.name.split("_")[1]))
    found = found or sorted(job_dir.glob("*/results.json"))
    return [p.parent for p in found]


@dataclass
class Scores:
    """The estimates, per training row (``dataset_index`` order) and per test point."""

    dataset_index: np.ndarray
    labels: np.ndarray
    corrupted: np.ndarray
    mem: np.ndarray
    n_in: np.ndarray
    n_out: np.ndarray
    max_infl: np.ndarray  # per test point: the largest influence of any training point
    top_train: np.ndarray  # per test point: the rows of its top-k influences, largest first
    top_infl: np.ndarray
    infl: np.ndarray | None = None  # the full (train, test) matrix, where it fits

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def estimate(members: list[Member], top_k: int = TOP_K) -> Scores:
    """mem(i) and infl(i, j) from the members' outcomes (NaN for a row without a model on each
    side); all members must share the training set and its labels."""
    first = members[0]
    for m in members[1:]:
        if not (
            np.array_equal(m.dataset_index, first.dataset_index) and np.array_equal(m.labels, first.labels)
        ):
            raise ValueError(
                "the runs differ in their training rows or labels: memorization needs one training set and "
                "one noise draw (set data_seed to a number, not ${seed})"
            )
    in_mask = np.stack([m.in_subset for m in members]).astype(np.float64)  # (K, n)
    out_mask = 1.0 - in_mask
    n_in, n_out = in_mask.sum(0), out_mask.sum(0)
    # A row no model held out (or none trained on) has no estimate: NaN, counted in the summary.
    both = (n_in > 0) & (n_out > 0)
    per_in, per_out = 1 / np.where(both, n_in, 1), 1 / np.where(both, n_out, 1)
    train_correct = np.stack([m.train_correct for m in members]).astype(np.float64)
    mem = (in_mask * train_correct).sum(0) * per_in - (out_mask * train_correct).sum(0) * per_out
    mem[~both] = np.nan
    test_correct = np.stack([m.test_correct for m in members]).astype(np.float64)  # (K, n_test)
    # infl = P[correct | in] − P[correct | out], for all pairs: two (n, K) x (K, n_test) products.
    infl = (in_mask.T @ test_correct) * per_in[:, None] - (out_mask.T @ test_correct) * per_out[:, None]
    infl[~both] = -np.inf  # never among the top influences
    k = min(top_k, len(mem))
    top_train = np.argsort(-infl, axis=0, kind="stable")[:k].T  # (n_test, k)
    top_infl = np.take_along_axis(infl, top_train.T, axis=0).T
    infl[~both] = np.nan
    full = infl.astype(np.float32) if infl.size <= FULL_MATRIX_MAX else None
    corrupted = first.labels != first.clean_labels
    return Scores(first.dataset_index, first.labels, corrupted, mem, n_in.astype(np.int64),
                  n_out.astype(np.int64), top_infl[:, 0], top_train, top_infl, full)  # fmt: skip


def _positions(index: np.ndarray) -> dict[int, int]:
    """Dataset index → row, for aligning another run's (or record's) rows with these."""
    return {int(d): i for i, d in enumerate(index)}


def proxy_scores(members: list[Member]) -> dict[str, np.ndarray]:
    """The tracker's cheap per-point proxies, averaged over the members that trained on each point:
    first and stable fit epoch (never fit: one more than the epochs trained) and forgetting events."""
    first = members[0].dataset_index
    position = _positions(first)
    sums = {key: np.zeros(len(first)) for key in ("first_fit_epoch", "stable_fit_epoch", "forgetting_events")}
    counts = np.zeros(len(first))
    for m in members:
        if not m.record:
            return {}
        rows = np.array([position[int(d)] for d in m.record["dataset_index"]])
        never = int(m.record["epochs"][-1]) + 1 if len(m.record["epochs"]) else 1
        for key in sums:
            values = m.record[key].astype(np.float64)
            if key != "forgetting_events":
                values = np.where(values < 0, never, values)
            sums[key][rows] += values
        counts[rows] += 1
    return {key: s / np.maximum(counts, 1) for key, s in sums.items()}


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def _fraction_above(values: np.ndarray, label: str) -> Curve:
    grid = np.linspace(-1, 1, 201)
    fraction = [(values > s).mean() if len(values) else 0.0 for s in grid]
    return Curve(f"{label} (n={len(values)})", grid.tolist(), fraction)


def _robust_masks(scores: Scores, robust: Path, natural: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Per training row of ``scores``: left unfit by the robust run (and fit by the natural run);
    per test point: misclassified by the robust run."""
    rob = read_member(robust)
    unfit = ~rob.train_correct[_rows_of(rob, scores, robust)]
    if natural is not None:
        nat = read_member(natural)
        unfit &= nat.train_correct[_rows_of(nat, scores, natural)]
    return unfit, ~rob.test_correct


def _rows_of(run: Member, scores: Scores, where: Path) -> np.ndarray:
    """The run's row of each of ``scores``' training points; a ValueError unless the run trained on
    all of them with the same labels."""
    position = _positions(run.dataset_index)
    missing = sum(int(d) not in position for d in scores.dataset_index)
    if missing:
        raise ValueError(f"{where}: not trained on the same training set ({missing} points missing)")
    rows = np.array([position[int(d)] for d in scores.dataset_index])
    if not np.array_equal(run.labels[rows], scores.labels):
        raise ValueError(f"{where}: its labels differ (another noise draw: set its data_seed to the job's)")
    return rows


def summarize(scores: Scores, members: list[Member], robust: Path | None = None,
              natural: Path | None = None, figure: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """The numbers behind Figure 5, and the proxies' rank correlation with mem; draws the figure
    when a robust run is given."""
    mem = scores.mem
    known = np.isfinite(mem)
    out: dict[str, Any] = {
        "models": len(members),
        "n_train": len(mem),
        "n_train_without_estimate": int((~known).sum()),  # in every subset, or in none
        "n_test": len(scores.max_infl),
        "models_per_point_in": [int(scores.n_in.min()), int(scores.n_in.max())],
        "mem_mean": float(np.nanmean(mem)),
        "mem_fraction_above_0.5": float((mem[known] > 0.5).mean()),
        "max_infl_mean": float(scores.max_infl.mean()),
    }
    if scores.corrupted.any():
        out["mem_mean_corrupted"] = float(np.nanmean(mem[scores.corrupted]))
        out["mem_mean_clean"] = float(np.nanmean(mem[~scores.corrupted]))
    out["spearman_mem_vs"] = {k: _spearman(mem[known], v[known]) for k, v in proxy_scores(members).items()}
    if robust is None:
        return out
    unfit, test_wrong = _robust_masks(scores, robust, natural)
    unfit &= known
    which = "left unfit by the robust run" + (" and fit by the natural one" if natural else "")
    out.update({
        "robust_run": str(robust),
        "natural_run": str(natural) if natural else None,
        "n_robust_unfit": int(unfit.sum()),
        "mem_mean_robust_unfit": float(mem[unfit].mean()) if unfit.any() else None,
        "n_robust_test_wrong": int(test_wrong.sum()),
        "max_infl_mean_robust_test_wrong": (
            float(scores.max_infl[test_wrong].mean()) if test_wrong.any() else None
        ),
    })  # fmt: skip
    if figure is not None:
        panels = {
            "(a) self-influence of training points": (
                "s (self-influence, mem)",
                [_fraction_above(mem[known], "all training points"), _fraction_above(mem[unfit], which)],
            ),
            "(b) largest influence on each test point": (
                "s (max over training points of infl)",
                [_fraction_above(scores.max_infl, "all test points"),
                 _fraction_above(scores.max_infl[test_wrong], "misclassified by the robust run")],
            ),
        }  # fmt: skip
        out["figure"] = str(plot_fraction_above(panels, figure))
    return out


def write(job_dir: Path, robust: Path | None = None, natural: Path | None = None) -> dict[str, Any]:
    """Estimate from ``job_dir``'s runs; write the scores, the summary and (with a robust run) the
    figure into ``job_dir``."""
    runs = member_dirs(job_dir)
    if not runs:
        raise FileNotFoundError(f"no finished runs (member_<k>/results.json) under {job_dir}")
    members = [read_member(r) for r in runs]
    scores = estimate(members)
    atomic_savez(job_dir / "memorization_scores.npz", **scores.arrays())
    summary = summarize(scores, members, robust, natural, job_dir / "figures" / "figure5.png")
    atomic_write_json(job_dir / "memorization_summary.json", summary)
    return summary
