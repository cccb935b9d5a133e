"""The finished runs of a reproduction, as its claims read them: per sweep, every job's results,
overrides and resolved config, filtered by key."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benign_lightning.analysis.sweeps import Job, read_jobs


@dataclass
class RunView:
    """One finished job: a key is looked up in its results, then its overrides (as typed: an option
    name such as ``model=mlp_2x100``), then its resolved config (dotted)."""

    job: Job
    config: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        if "/" in key:  # ``<name>/<key>``: the run evaluated again under another attack
            name, inner = key.split("/", 1)
            return self.reevaluated(name).get(inner, default)
        results = self.job.results or {}
        if key in results:
            return results[key]
        if key in self.job.overrides:
            return self.job.overrides[key]
        node: Any = self.config
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                node = None
                break
            node = node[part]
        return node if node is not None else default

    def reevaluated(self, name: str) -> dict[str, Any]:
        """``eval_<name>.json`` (``reproduce.reevaluate``); none is a NoRuns."""
        path = self.job.folder / f"eval_{name}.json"
        if not path.exists():
            raise NoRuns(f"{self.job.folder.name} has no eval_{name}.json (not evaluated by {name})")
        return json.loads(path.read_text())

    def matches(self, where: dict[str, Any]) -> bool:
        return all(_same(self.get(k), v) for k, v in where.items())


def _same(value: Any, wanted: Any) -> bool:
    try:
        return float(value) == float(wanted)
    except (TypeError, ValueError):
        return str(value) == str(wanted)


def _at_eps(curve: dict[str, float] | None, eps: float) -> float | None:
    """A per-ε dict's value at ``eps`` (keys are ``str(float(eps))``)."""
    if not curve:
        return None
    found = {float(k): v for k, v in curve.items()}
    if float(eps) not in found:
        raise NoRuns(f"no ε = {eps:g} in the grid {sorted(found)}")
    return found[float(eps)]


class NoRuns(LookupError):
    """A claim asked for runs the reproduction does not have (its verdict: not run)."""


class TooFew(NoRuns):
    """The runs are there, but hold too few cases for the claim's statistic (its verdict: too few to
    judge)."""


class Results:
    """Every finished job of each sweep of one reproduction (``sweep name → folder``)."""

    def __init__(self, sweep_dirs: dict[str, Path]) -> None:
        self.sweep_dirs = dict(sweep_dirs)
        self.runs: dict[str, list[RunView]] = {}
        for name, folder in self.sweep_dirs.items():
            views = []
            for job in read_jobs(folder) if folder.is_dir() else []:
                if job.status != "complete":
                    continue
                config_path = job.folder / "config.yaml"
                config = yaml.safe_load(config_path.read_text()) if config_path.exists() else {}
                views.append(RunView(job, config or {}))
            self.runs[name] = views

    def select(self, sweep: str, **where: Any) -> list[RunView]:
        """The finished jobs of ``sweep`` whose keys equal ``where`` (``data.sigma2=0.5``: pass
        ``**{"data.sigma2": 0.5}``); none is a NoRuns."""
        found = [r for r in self.runs.get(sweep, []) if r.matches(where)]
        if not found:
            shown = ", ".join(f"{k}={v}" for k, v in where.items()) or "any"
            raise NoRuns(f"no finished run of sweep {sweep!r} with {shown}")
        return found

    def mean(self, sweep: str, key: str, _at: float | None = None, **where: Any) -> float:
        """The mean of ``key`` over the seeds (every matching job); ``_at``: the value at that ε of a
        per-ε key (``adv_err_by_eps``)."""
        values = [r.get(key) for r in self.select(sweep, **where)]
        if _at is not None:
            values = [_at_eps(v, _at) for v in values]
        numbers = [float(v) for v in values if v is not None]
        if not numbers:
            raise NoRuns(f"sweep {sweep!r}: no value of {key} where {where}")
        return statistics.mean(numbers)

    def only_seed(self, seed: int) -> Results:
        """The runs of one seed. A sweep run at a single seed (a closed-form baseline, a shared
        reference run) serves every seed and is kept whole."""
        out = Results.__new__(Results)
        out.sweep_dirs = dict(self.sweep_dirs)
        out.runs = {}
        for name, views in self.runs.items():
            seeds = {int(r.get("seed", 0)) for r in views}
            out.runs[name] = views if len(seeds) <= 1 else [r for r in views if int(r.get("seed", 0)) == seed]
        return out

    def job_json(self, sweep: str, name: str, missing: str) -> dict[str, Any]:
        """The first job of ``sweep`` with a ``name`` file (a step after the sweep writes it), read;
        without one, ``NoRuns(f"no {name} ({missing})")``."""
        found = sorted(self.sweep_dirs[sweep].glob(f"*/{name}"))
        if not found:
            raise NoRuns(f"no {name} ({missing})")
        return json.loads(found[0].read_text())

    def folders(self) -> list[str]:
        return [str(r.job.folder) for views in self.runs.values() for r in views]

    def seeds(self) -> list[int]:
        return sorted({int(r.get("seed", 0)) for views in self.runs.values() for r in views})
