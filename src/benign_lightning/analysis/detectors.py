"""Label-noise detectors read from run folders: each scores every training point of one noise mask
(higher: more likely mislabelled) and flags a set at its own threshold. ``detect.py`` compares them.

- **robust training's errors** (§3.2): an AT or TRADES model leaves the mislabelled points unfit;
  flagged: its training errors; score: minus its margin on the given label (``train_margin``).
- **confident learning** (Northcutt et al. 2021, cleanlab): out-of-sample probabilities from K-fold
  cross-validated training (``data.cv_folds``; the folds' ``pred_probs.npz`` joined); flagged:
  ``cleanlab.filter.find_label_issues``; score: 1 − ``cleanlab.rank.get_label_quality_scores``.
- **learning time** and **forgetting events** (Toneva et al. 2019) of a natural run's
  memorization record: the epoch from which a point stays fit (never: after the last epoch) and
  how often it was forgotten;
- **small loss** (Arpit et al. 2017; Han et al. 2018): the natural run's loss on each point at
  ``small_loss_epoch``, before the network memorises the noise.

The score-only detectors (the last three) have no threshold of their own: they flag the points a
two-component Gaussian mixture on the score puts in its high component (DivideMix's rule, Li et al.
2020), which needs no knowledge of the noise rate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROBUST_METHODS = ("at", "trades")


@dataclass(frozen=True)
class Detector:
    """One detector's verdict on every row of a noise mask (``noise.npz``'s order)."""

    name: str
    flagged: np.ndarray  # bool per row
    score: np.ndarray  # float per row; higher: more likely mislabelled
    runs: tuple[str, ...]  # the run folders it read
    wall_s: float | None  # the training and evaluation time of those runs
    rule: str  # how the flagged set is chosen


@dataclass
class Run:
    """One run folder's results contract, as the detectors read it."""

    path: Path
    results: dict[str, Any]
    config: dict[str, Any]
    noise: dict[str, np.ndarray]

    @property
    def method(self) -> str:
        return str(self.results.get("method"))

    @property
    def trained_on_all(self) -> bool:
        """Did it train on every row of its noise mask (no held-out split)?"""
        return not self.noise["heldout"].any()

    def arrays(self, name: str) -> dict[str, np.ndarray] | None:
        path = self.path / name
        if not path.exists():
            return None
        with np.load(path) as f:
            return {k: f[k] for k in f.files}


def read_run(path: Path) -> Run:
    """A finished run folder (``results.json`` with status complete, ``noise.npz``)."""
    results = json.loads((path / "results.json").read_text())
    config_path = path / "config.yaml"
    config = yaml.safe_load(config_path.read_text()) if config_path.exists() else {}
    with np.load(path / "noise.npz") as f:
        noise = {k: f[k] for k in f.files}
    if "heldout" not in noise:
        noise["heldout"] = np.zeros(len(noise["noisy_labels"]), dtype=bool)
    return Run(path, results, config or {}, noise)


def _wall(runs: list[Run]) -> float | None:
    walls = [r.results.get("wall_s") for r in runs]
    return round(float(sum(walls)), 1) if all(w is not None for w in walls) else None


def gmm_flags(score: np.ndarray, seed: int = 0) -> np.ndarray:
    """The points a two-component Gaussian mixture on ``score`` assigns to its high-mean component
    with posterior > 1/2 (sklearn's GaussianMixture; DivideMix's rule for the small-loss score)."""
    from sklearn.mixture import GaussianMixture

    x = np.asarray(score, dtype=np.float64).reshape(-1, 1)
    if len(x) < 2 or np.ptp(x) == 0:
        return np.zeros(len(x), dtype=bool)
    gmm = GaussianMixture(n_components=2, reg_covar=1e-4, random_state=seed).fit(x)
    high = int(np.argmax(gmm.means_.ravel()))
    return gmm.predict_proba(x)[:, high] > 0.5


def robust_errors(run: Run) -> Detector:
    """§3.2's detector: the robust model's training errors, ranked by minus its margin."""
    pred = run.arrays("predictions.npz")
    if pred is None or "train_margin" not in pred:
        raise ValueError(f"{run.path}: no predictions.npz with train_margin (rerun with this version)")
    labels = run.noise["noisy_labels"]
    return Detector(
        name=f"{run.method.upper()} training errors",
        flagged=pred["train_pred"] != labels,
        score=-pred["train_margin"].astype(np.float64),
        runs=(str(run.path),),
        wall_s=_wall([run]),
        rule="training error (margin < 0)",
    )


def natural_record_detectors(run: Run) -> list[Detector]:
    """Learning time, forgetting events and (with ``small_loss_epoch``) the small loss of one
    natural run's ``memorization.npz``."""
    record = run.arrays("memorization.npz")
    if record is None:
        raise ValueError(f"{run.path}: no memorization.npz (run with memorization=true)")
    last = int(record["epochs"][-1]) if len(record["epochs"]) else 0
    stable = record["stable_fit_epoch"].astype(np.float64)
    stable[stable < 0] = last + 1  # never fit for good: later than any epoch
    scores = {
        "learning time (stable fit epoch)": stable,
        "forgetting events": record["forgetting_events"].astype(np.float64),
    }
    if "loss_at_epoch" in record:
        scores[f"small loss (epoch {int(record['loss_epoch'])})"] = record["loss_at_epoch"].astype(np.float64)
    return [
        Detector(name, gmm_flags(score), score, (str(run.path),), _wall([run]), "2-component GMM on score")
        for name, score in scores.items()
    ]


def confident_learning(folds: list[Run]) -> Detector:
    """Cleanlab on the K folds' out-of-sample probabilities, joined into the mask's row order.
    Every fold 0..K-1 must be there once, all on the same mask."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    files = [f.arrays("pred_probs.npz") for f in folds]
    k = int(files[0]["cv_folds"])
    have = sorted(int(f["fold"]) for f in files)
    if have != list(range(k)):
        missing = sorted(set(range(k)) - set(have))
        raise ValueError(f"cross-validation with {k} folds: folds {have} found, {missing or 'duplicates'} "
                         "wrong; every fold 0..K-1 once")  # fmt: skip
    index = folds[0].noise["dataset_index"]
    row_of = {int(d): i for i, d in enumerate(index)}
    probs = np.full((len(index), files[0]["pred_probs"].shape[1]), np.nan, dtype=np.float64)
    for f in files:
        probs[[row_of[int(d)] for d in f["dataset_index"]]] = f["pred_probs"]
    if np.isnan(probs).any():
        raise ValueError(f"cross-validation folds under {folds[0].path.parent}: rows held out by no fold")
    labels = folds[0].noise["noisy_labels"]
    probs /= probs.sum(1, keepdims=True)  # float32 files: cleanlab wants rows summing to 1
    flagged = find_label_issues(labels, probs)
    score = 1.0 - get_label_quality_scores(labels, probs)
    return Detector(
        name=f"confident learning ({k}-fold CV)",
        flagged=np.asarray(flagged, dtype=bool),
        score=score,
        runs=tuple(str(f.path) for f in folds),
        wall_s=_wall(folds),
        rule="cleanlab find_label_issues (prune_by_noise_rate)",
    )
