"""One run's own figures, in ``<run_dir>/figures/``; W&B shows them as images (``figures`` key)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benign_lightning.io import atomic_savefig
from benign_lightning.results import adv_err_curve

FIGURES_DIR = "figures"


def _title(results: dict[str, Any]) -> str:
    return f"{results.get('name')}: {results.get('method')}, {results.get('arch')}, eta={results.get('eta')}"


def plot_adv_err_vs_eps(results: dict[str, Any], path: Path) -> Path:
    """Adversarial test error against ε (Figures 2b, 9b); at ε = 0 it is the natural error."""
    from matplotlib.figure import Figure

    curve = adv_err_curve(results)
    if curve[0][0] > 0:
        curve.insert(0, (0.0, results["natural_err"]))
    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    ax.plot(*zip(*curve, strict=True), marker="o")
    ax.set(xlabel="eps", ylabel="adversarial test error", ylim=(-0.02, 1.02), title=_title(results))
    ax.grid(alpha=0.3)
    return atomic_savefig(fig, path)


def plot_memorization(memorization: dict[str, np.ndarray], results: dict[str, Any], path: Path) -> Path:
    """Fraction of clean and of mislabelled training points fit after each epoch (Figure 3)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    epochs = memorization["epochs"]
    ax.plot(epochs, memorization["clean_fit"], marker=".", label="clean labels")
    if memorization["corrupted"].any():
        ax.plot(epochs, memorization["noisy_fit"], marker=".", label="mislabelled")
    ax.set(xlabel="epoch", ylabel="training points fit", ylim=(-0.02, 1.02), title=_title(results))
    ax.grid(alpha=0.3)
    ax.legend()
    return atomic_savefig(fig, path)


def write_run_figures(run_dir: str | Path, results: dict[str, Any]) -> dict[str, Path]:
    """The figures of a finished run, by W&B key."""
    out = Path(run_dir) / FIGURES_DIR
    figures = {"figures/adv_err_vs_eps": plot_adv_err_vs_eps(results, out / "adv_err_vs_eps.png")}
    memorization_file = Path(run_dir) / "memorization.npz"
    if memorization_file.exists():
        with np.load(memorization_file) as memorization:
            figures["figures/memorization"] = plot_memorization(
                dict(memorization), results, out / "memorization.png"
            )
    return figures
