"""A sweep's jobs read, summarised and drawn: what ``python -m benign_lightning.aggregate`` writes
(``summary.csv``, ``err_vs_<x>.png``, ``adv_err_vs_eps.png``, ``curves.png``, decision regions) and
what ``reproduce`` reads its runs with (``Job``, ``read_jobs``). Jobs that failed, did not finish,
or were never started are reported, not dropped.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from benign_lightning.analysis.figures import CURVE_PANELS, Curve, plot_panels, run_curves
from benign_lightning.analysis.figures import plot_adv_err_vs_eps as plot_adv_err_vs_eps_figure
from benign_lightning.analysis.figures import plot_err_vs_eta as plot_err_vs_eta_figure
from benign_lightning.plumbing.io import atomic_write_text

METRICS = (
    "natural_err", "adv_err", "train_err", "noisy_fit", "noise_detect_precision", "noise_detect_recall",
    "n_train_errors", "n_train_errors_mislabelled", "n_noisy", "epochs", "final_train_loss", "wall_s",
)  # fmt: skip
# Keys that are never lines of a figure (they vary within a line or are noise).
NOT_A_GROUP = {"seed", "data_seed", "eta", "eps", "hydra.run.dir", "hydra.sweep.dir"}


@dataclass
class Job:
    folder: Path
    overrides: dict[str, str]
    results: dict[str, Any] | None
    status: str = field(init=False)

    def __post_init__(self) -> None:
        if self.results is None:
            self.status = "unfinished"
        else:
            self.status = self.results.get("status", "complete")


def _parse(overrides: list[str]):
    return OverridesParser.create().parse_overrides(overrides)


def read_jobs(sweep_dir: Path) -> list[Job]:
    """Every job folder under ``sweep_dir`` (one with ``.hydra/overrides.yaml`` or ``results.json``)."""
    folders = sorted(
        {p.parent.parent for p in sweep_dir.glob("**/.hydra/overrides.yaml")}
        | {p.parent for p in sweep_dir.glob("**/results.json")},
        key=lambda p: (len(p.parts), _job_number(p), str(p)),
    )
    jobs = []
    for folder in folders:
        overrides_file = folder / ".hydra" / "overrides.yaml"
        raw = yaml.safe_load(overrides_file.read_text()) if overrides_file.exists() else []
        overrides = {o.key_or_group: o.get_value_element_as_str() for o in _parse(raw or [])}
        results_file = folder / "results.json"
        results = json.loads(results_file.read_text()) if results_file.exists() else None
        if _is_ensemble_job(folder, results):
            continue  # its members (member_<k>/, one seed each) are the runs
        jobs.append(Job(folder, overrides, results))
    return jobs


def _is_ensemble_job(folder: Path, results: dict[str, Any] | None) -> bool:
    """An ``ensemble.size=N`` job folder that has not failed: read through its members."""
    status = (results or {}).get("status")
    return status == "ensemble" or (status != "failed" and (folder / "member_0").is_dir())


def _job_number(folder: Path) -> int:
    head = folder.name.split("_", 1)[0]
    return int(head) if head.isdigit() else -1


def expected_jobs(sweep_dir: Path) -> int | None:
    """How many jobs the sweep in ``multirun.yaml`` asks for (None if unknown)."""
    path = sweep_dir / "multirun.yaml"
    if not path.exists():
        return None
    task = yaml.safe_load(path.read_text()).get("hydra", {}).get("overrides", {}).get("task", [])
    count = 1
    for override in _parse(task):
        if override.is_sweep_override():
            count *= len(list(override.sweep_string_iterator()))
    return count


def swept_keys(jobs: list[Job]) -> list[str]:
    """The override keys whose value differs between jobs, in first-seen order."""
    keys: dict[str, set[str]] = defaultdict(set)
    for job in jobs:
        for k, v in job.overrides.items():
            keys[k].add(v)
    return [k for k, values in keys.items() if len(values) > 1 or len(jobs) == 1]


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def summary_rows(jobs: list[Job], keys: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    eps_grid = sorted({float(e) for j in jobs if j.results for e in j.results.get("adv_err_by_eps", {})})
    columns = ["job", *keys, "status", *METRICS, *[f"adv_err@{e:g}" for e in eps_grid], "error"]
    rows = []
    for job in jobs:
        r = job.results or {}
        name = job.folder.name
        if name.startswith("member_"):  # an ensemble's member: its job's folder too
            name = f"{job.folder.parent.name}/{name}"
        row: dict[str, Any] = {"job": name, "status": job.status, "error": r.get("error", "")}
        row.update({k: job.overrides.get(k, r.get(k, "")) for k in keys})
        row.update({m: r.get(m, "") for m in METRICS})
        for e in eps_grid:
            row[f"adv_err@{e:g}"] = r.get("adv_err_by_eps", {}).get(str(e), "")
        rows.append(row)
    return columns, rows


def _mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of a 95% confidence interval for it: Student's t with n - 1 degrees
    of freedom (t(0.975, 2) = 4.303 for 3 seeds, where the normal 1.96 would be 2.2x too narrow);
    no band (0) for a single value."""
    from scipy import stats

    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, 0.0
    t = float(stats.t.ppf(0.975, len(values) - 1))
    return mean, t * statistics.stdev(values) / math.sqrt(len(values))


def _value(job: Job, key: str) -> Any:
    if key in job.overrides:
        return job.overrides[key]
    return (job.results or {}).get(key.split(".")[-1], "")


def _lines(jobs: list[Job], group_keys: list[str]) -> dict[str, list[Job]]:
    lines: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        label = ", ".join(f"{k.split('.')[-1]}={_value(job, k)}" for k in group_keys) or "all"
        lines[label].append(job)
    return dict(lines)


BAND_LABEL = "error (mean over seeds, 95% t band)"


def _curve(label: str, by_x: dict[float, list[float]]) -> Curve:
    """Mean and 95% band over the seeds at each x; the legend says how many seeds."""
    xs = sorted(by_x)
    stats = [_mean_ci(by_x[x]) for x in xs]
    seeds = sorted({len(by_x[x]) for x in xs})
    n = f"n={seeds[0]}" if len(seeds) == 1 else f"n={seeds[0]}-{seeds[-1]}"
    return Curve(f"{label} ({n})", xs, [m for m, _ in stats], [h for _, h in stats])


# Figure 2a's three panels: (results key, panel title).
ETA_PANELS = (
    ("adv_err", "adversarial error"),
    ("natural_err", "natural test error"),
    ("train_err", "training error (given labels)"),
)


def _x_value(job: Job, x: str) -> float | None:
    return _number(job.results.get(x)) if x in job.results else _number(_value(job, x))


def plot_err_vs(jobs: list[Job], x: str, group_keys: list[str], path: Path) -> Path | None:
    """The three panels of Figure 2a against the swept key ``x`` (``eta``; or ``alpha_frac``, ...)."""
    done = [j for j in jobs if j.status == "complete" and _x_value(j, x) is not None]
    if len({_x_value(j, x) for j in done}) < 2:
        return None
    panels: dict[str, list[Curve]] = {}
    for metric, title in ETA_PANELS:
        if not all(metric in j.results for j in done):
            continue  # results.json written before the key existed
        lines = panels.setdefault(title, [])
        for label, members in sorted(_lines(done, group_keys).items()):
            by_x: dict[float, list[float]] = defaultdict(list)
            for j in members:
                by_x[_x_value(j, x)].append(j.results[metric])
            lines.append(_curve(label, by_x))
    xlabel = "label noise η" if x == "eta" else x
    return plot_err_vs_eta_figure(panels, path, BAND_LABEL, xlabel=xlabel)


def plot_adv_err_vs_eps(jobs: list[Job], group_keys: list[str], path: Path) -> Path | None:
    done = [j for j in jobs if j.status == "complete" and len(j.results.get("adv_err_by_eps", {})) > 1]
    if not done:
        return None
    curves = []
    for label, members in sorted(_lines(done, group_keys).items()):
        by_eps: dict[float, list[float]] = defaultdict(list)
        for j in members:
            for e, err in j.results["adv_err_by_eps"].items():
                by_eps[float(e)].append(err)
        curves.append(_curve(label, by_eps))
    return plot_adv_err_vs_eps_figure(curves, path, ylabel="adversarial " + BAND_LABEL)


def plot_curves(jobs: list[Job], group_keys: list[str], path: Path) -> Path | None:
    """The runs' per-epoch curves (``curves.enabled``), one panel per quantity, one line per group
    (mean over seeds with the 95% band): robust overfitting and noise memorisation side by side."""
    done = [j for j in jobs if j.status == "complete" and j.results.get("curve_epochs")]
    if not done:
        return None
    panels: dict[str, list[Curve]] = {}
    for stems in CURVE_PANELS.values():
        for stem, title in stems:
            for label, members in sorted(_lines(done, group_keys).items()):
                by_epoch: dict[float, list[float]] = defaultdict(list)
                for j in members:
                    curve = run_curves(j.results, stem)
                    for epoch, value in zip(*(curve.x, curve.y) if curve else ((), ()), strict=True):
                        by_epoch[epoch].append(value)
                if by_epoch:
                    panels.setdefault(title, []).append(_curve(label, by_epoch))
    return plot_err_vs_eta_figure(panels, path, BAND_LABEL, xlabel="epoch")


def plot_decision_regions(jobs: list[Job], group_keys: list[str], path: Path) -> Path | None:
    """The runs' decision-region figures as one, a panel per job labelled by its swept values."""
    images = {}
    for job in jobs:
        name = (job.results or {}).get("decision_regions") if job.status == "complete" else None
        if name and (job.folder / name).exists():
            label = ", ".join(f"{k.split('.')[-1]}={_value(job, k)}" for k in group_keys) or job.folder.name
            images[label] = job.folder / name
    return plot_panels(images, path) if len(images) > 1 else None


def aggregate(sweep_dir: str | Path, by: list[str] | None = None, x: str = "eta") -> dict[str, Any]:
    """Write ``summary.csv`` and the figures (``err_vs_<x>.png``: the errors against the swept key
    ``x``); return what was found (also printed by the CLI)."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"{sweep_dir} is not a folder")
    jobs = read_jobs(sweep_dir)
    if not jobs:
        raise FileNotFoundError(
            f"no job folders (with .hydra/overrides.yaml or results.json) under {sweep_dir}"
        )
    keys = swept_keys(jobs)
    columns, rows = summary_rows(jobs, keys)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(sweep_dir / "summary.csv", text.getvalue())

    groups = by if by is not None else [k for k in keys if k not in NOT_A_GROUP | {x}]
    eps_groups = by if by is not None else [k for k in keys if k not in NOT_A_GROUP - {"eta"}]
    figures = [
        plot_err_vs(jobs, x, groups, sweep_dir / f"err_vs_{x}.png"),
        plot_adv_err_vs_eps(jobs, eps_groups, sweep_dir / "adv_err_vs_eps.png"),
        plot_decision_regions(jobs, eps_groups, sweep_dir / "decision_regions.png"),
        plot_curves(jobs, eps_groups, sweep_dir / "curves.png"),
    ]
    expected = expected_jobs(sweep_dir)
    # The sweep's jobs: an ensemble job counts once, whatever its members.
    started = len({j.folder.parent if j.folder.name.startswith("member_") else j.folder for j in jobs})
    return {
        "jobs": len(jobs),
        "expected": expected,
        "never_started": max(0, expected - started) if expected is not None else None,
        "complete": sum(j.status == "complete" for j in jobs),
        "failed": {j.folder.name: (j.results or {}).get("error", "") for j in jobs if j.status == "failed"},
        "unfinished": [j.folder.name for j in jobs if j.status == "unfinished"],
        "summary": str(sweep_dir / "summary.csv"),
        "figures": [str(f) for f in figures if f is not None],
        "swept": keys,
    }
