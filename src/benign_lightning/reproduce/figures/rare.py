"""Figures 1 and 4 run nothing of their own: they read Figure 5's runs and draw from them."""

from __future__ import annotations

from pathlib import Path

from benign_lightning.reproduce.entry import Entry
from benign_lightning.reproduce.figures.fig5 import FIG5, estimate_influence
from benign_lightning.reproduce.figures.shared import single_run
from benign_lightning.reproduce.results import Results


def _rare_examples(folders: dict[str, Path]) -> None:
    """Figure 5's estimates (if not there yet), then Figures 1 and 4 into the ensemble job."""
    from benign_lightning import rare_examples

    estimate_influence(folders)
    jobs = sorted(p.parent for p in folders["mem"].glob("*/memorization_scores.npz"))
    if jobs:
        rare_examples.write(jobs[0], single_run(folders["robust"]), single_run(folders["natural"]))


def rare_summary(r: Results, figure: str) -> dict:
    return r.job_json("mem", "rare_examples.json", "the runs or the step after them did not finish")[figure]


FIG5_RUNS_COST = {"smoke": "Figure 5's runs", "cpu": "Figure 5's runs (≈ 40 min), then seconds",
                  "paper": "Figure 5's runs"}  # fmt: skip


# Figures 1 and 4 rest on Zhang & Feldman's estimates from thousands of models (the paper's Figure 4
# used their published ones, Figure 1 points chosen by hand); the CPU scale's 12 members leave each
# point out ~3.6 times, so a score moves by ~0.3 with one miss: too coarse to rank the top 24 of 2000
# or a test point's top 10. Their claims are judged at the paper scale; smaller scales show numbers.
RARE_SCALES = ("paper",)
RARE_REGIME = ("12 ensemble members (CPU scale) give memorization and influence estimates too coarse to "
               "rank the few points the claim is about; judged at the paper scale (64 members, full MNIST)")


def on_figure5s_runs(**fields) -> Entry:
    """An entry that runs nothing of its own: Figure 5's runs, then the step that draws it."""
    return Entry(sweeps=FIG5.sweeps, runs_of="fig5", cost=FIG5_RUNS_COST,
                 needs="MNIST (BENIGN_DATA_DIR/MNIST/raw)", post=_rare_examples, **fields)  # fmt: skip
