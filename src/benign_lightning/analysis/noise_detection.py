"""Noise detection as a benchmark, what ``python -m benign_lightning.detect`` runs: finished runs
found and grouped by their noise mask, every detector of ``analysis/detectors.py`` the runs allow,
scored against the mask's known mislabelled points (``detect``: ``detection.csv``, ``detection.md``,
``pr_<setting>.png``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benign_lightning.analysis.detectors import (
    ROBUST_METHODS,
    Detector,
    Run,
    confident_learning,
    natural_record_detectors,
    read_run,
    robust_errors,
)
from benign_lightning.analysis.figures import plot_pr_curves
from benign_lightning.plumbing.io import atomic_write_text

COLUMNS = ["setting", "detector", "n", "n_noisy", "n_flagged", "precision", "recall", "f1", "auroc", "ap",
           "wall_s", "rule", "runs"]  # fmt: skip


def detection_metrics(corrupted: np.ndarray, flagged: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    """Precision, recall and F1 of ``flagged`` and AUROC and average precision of ``score``,
    against ``corrupted`` (None where undefined: no point flagged, or no corrupted point)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    corrupted, flagged = np.asarray(corrupted, dtype=bool), np.asarray(flagged, dtype=bool)
    hits, n_flagged, n_noisy = int((corrupted & flagged).sum()), int(flagged.sum()), int(corrupted.sum())
    precision = hits / n_flagged if n_flagged else None
    recall = hits / n_noisy if n_noisy else None
    if precision is None or recall is None:
        f1 = None
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    both = 0 < n_noisy < len(corrupted)
    return {
        "n": int(len(corrupted)),
        "n_noisy": n_noisy,
        "n_flagged": n_flagged,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "auroc": float(roc_auc_score(corrupted, score)) if both else None,
        "ap": float(average_precision_score(corrupted, score)) if n_noisy else None,
    }


def find_runs(folders: list[Path]) -> list[Run]:
    """Every finished single run under ``folders`` (an ensemble job's members, not the job)."""
    runs, seen = [], set()
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder")
        for path in sorted(folder.rglob("results.json")):
            run_dir = path.parent  # as given (relative paths stay relative in the table)
            if run_dir.resolve() in seen or not (run_dir / "noise.npz").exists():
                continue
            seen.add(run_dir.resolve())
            run = read_run(run_dir)
            if run.results.get("status") == "complete":
                runs.append(run)
    return runs


def mask_key(run: Run) -> str:
    """The noise mask a run trained under: its rows and their clean and noisy labels."""
    h = hashlib.sha256()
    for k in ("dataset_index", "clean_labels", "noisy_labels"):
        h.update(np.ascontiguousarray(run.noise[k]).astype(np.int64).tobytes())
    return h.hexdigest()[:12]


@dataclass
class Setting:
    """One noise mask and the runs trained under it."""

    key: str
    runs: list[Run]
    suffix: str = ""  # the mask's key, where two masks share a name (say two data_seeds)

    @property
    def corrupted(self) -> np.ndarray:
        noise = self.runs[0].noise
        return noise["noisy_labels"] != noise["clean_labels"]

    @property
    def name(self) -> str:
        r = self.runs[0].results
        mode = r.get("noise_mode") or self.runs[0].config.get("data", {}).get("noise_mode", "?")
        return f"{r.get('data')} {mode} eta={r.get('eta')}{self.suffix}"

    @property
    def slug(self) -> str:
        return self.name.replace(" eta=", "_eta").replace(" ", "_")


def group_by_mask(runs: list[Run]) -> list[Setting]:
    groups: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        groups[mask_key(run)].append(run)
    settings = [Setting(key, members) for key, members in groups.items()]
    names = [s.name for s in settings]
    for s in settings:
        if names.count(s.name) > 1:
            s.suffix = f" mask={s.key}"
    return sorted(settings, key=lambda s: s.name)


def detectors_of(setting: Setting) -> tuple[list[Detector], list[str]]:
    """The detectors one mask's runs allow, and a line for each run left out (and why)."""
    detectors, skipped = [], []
    folds: dict[tuple[int, Path], list[Run]] = defaultdict(list)
    for run in setting.runs:
        if (run.path / "pred_probs.npz").exists():
            folds[(int(run.noise["cv_fold"].max()) + 1, run.path.parent)].append(run)
        elif not run.trained_on_all:
            skipped.append(f"{run.path}: held rows out of training (not a cross-validation fold)")
        elif run.method in ROBUST_METHODS or run.method == "natural":
            try:
                detectors.extend([robust_errors(run)] if run.method in ROBUST_METHODS
                                 else natural_record_detectors(run))  # fmt: skip
            except ValueError as e:  # a run of an older version, or without the memorization record
                skipped.append(str(e))
        else:
            skipped.append(f"{run.path}: method {run.method} has no detector")
    for fold_runs in folds.values():
        try:
            detectors.append(confident_learning(sorted(fold_runs, key=lambda r: int(r.results["seed"]))))
        except ValueError as e:
            skipped.append(str(e))
    names = [d.name for d in detectors]
    detectors = [
        Detector(f"{d.name} [{Path(d.runs[0]).name}]", d.flagged, d.score, d.runs, d.wall_s, d.rule)
        if names.count(d.name) > 1 else d
        for d in detectors
    ]  # fmt: skip
    return detectors, skipped


def _cell(value: Any, key: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}" if key == "wall_s" else f"{value:.3f}"
    return str(value)


def detect(folders: list[Path], out: Path) -> list[dict[str, Any]]:
    """Score every detector of every mask under ``folders``; write ``out``'s files; return the rows."""
    settings = group_by_mask(find_runs(folders))
    if not settings:
        raise FileNotFoundError(f"no finished runs under {', '.join(map(str, folders))}")
    rows, markdown = [], []
    for setting in settings:
        detectors, skipped = detectors_of(setting)
        for line in skipped:
            print(f"skipped: {line}", file=sys.stderr)
        corrupted = setting.corrupted
        table = []
        for d in detectors:
            metrics = detection_metrics(corrupted, d.flagged, d.score)
            table.append({"setting": setting.name, "detector": d.name, **metrics, "wall_s": d.wall_s,
                          "rule": d.rule, "runs": " ".join(d.runs)})  # fmt: skip
        rows.extend(table)
        if detectors:
            plot_pr_curves(corrupted, [(d.name, d.score, d.flagged) for d in detectors],
                           out / f"pr_{setting.slug}.png", title=setting.name)  # fmt: skip
        markdown.append(_markdown(setting, table))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows({k: _cell(v, k) for k, v in row.items()} for row in rows)
    atomic_write_text(out / "detection.csv", buffer.getvalue())
    atomic_write_text(out / "detection.md", "\n".join(markdown))
    return rows


def _markdown(setting: Setting, table: list[dict[str, Any]]) -> str:
    corrupted = setting.corrupted
    head = f"**{setting.name}**: {int(corrupted.sum())} of {len(corrupted)} training labels corrupted\n\n"
    shown = ["detector", "n_flagged", "precision", "recall", "f1", "auroc", "ap", "wall_s"]
    lines = ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(_cell(row[k], k) for k in shown) + " |" for row in table]
    return head + "\n".join(lines) + "\n"
