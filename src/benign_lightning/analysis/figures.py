"""Every figure the project draws, in one place: a run's own (``<run_dir>/figures/``, which W&B
shows as images) and a sweep's (``aggregate``), so the two draw ε and η curves alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benign_lightning.plumbing.io import atomic_savefig
from benign_lightning.results import adv_err_curve

FIGURES_DIR = "figures"


def figures_enabled(cfg: Any, wandb: bool) -> bool:
    """``figures``: the run's PNGs in ``figures/`` (``auto``: when W&B shows them)."""
    setting = cfg.get("figures", "auto")
    return wandb if setting == "auto" else bool(setting)


def _title(results: dict[str, Any]) -> str:
    return f"{results.get('name')}: {results.get('method')}, {results.get('arch')}, eta={results.get('eta')}"


@dataclass
class Curve:
    """One line of a figure: values at x, and optionally the half-width of a band around them."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    band: Sequence[float] | None = None


def _draw(ax, curves: Sequence[Curve], xlabel: str, ylabel: str, title: str | None = None) -> None:
    for curve in curves:
        ax.plot(curve.x, curve.y, marker="o", label=curve.label or None)
        if curve.band is not None and any(curve.band):
            # An error is a probability: the band is cut to [0, 1].
            low = [max(0.0, m - h) for m, h in zip(curve.y, curve.band, strict=True)]
            high = [min(1.0, m + h) for m, h in zip(curve.y, curve.band, strict=True)]
            ax.fill_between(curve.x, low, high, alpha=0.2)
    ax.set(xlabel=xlabel, ylabel=ylabel, ylim=(-0.02, 1.02))
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if any(c.label for c in curves):
        ax.legend(fontsize=7)


def run_eps_curve(results: dict[str, Any]) -> Curve:
    """A run's adversarial error against ε; at ε = 0 it is the natural error."""
    curve = adv_err_curve(results)
    if curve[0][0] > 0:
        curve.insert(0, (0.0, results["natural_err"]))
    return Curve("", *zip(*curve, strict=True))


def plot_adv_err_vs_eps(curves: Sequence[Curve], path: Path, title: str | None = None,
                        ylabel: str = "adversarial test error") -> Path:  # fmt: skip
    """Adversarial test error against ε (Figures 2b, 9b, 9c), one line per curve."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4))
    _draw(fig.subplots(), curves, "ε", ylabel, title)
    return atomic_savefig(fig, path)


def plot_fraction_above(panels: dict[str, tuple[str, Sequence[Curve]]], path: Path) -> Path:
    """Side-by-side panels of "fraction of points with a score > s" against s (Figure 5); each
    panel is ``title: (xlabel, curves)``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5 * len(panels), 4))
    for ax, (title, (xlabel, curves)) in zip(np.atleast_1d(fig.subplots(1, len(panels))), panels.items(),
                                             strict=True):  # fmt: skip
        for curve in curves:
            ax.step(curve.x, curve.y, where="post", label=curve.label)
        ax.set(xlabel=xlabel, ylabel="fraction of points with score > s", ylim=(-0.02, 1.02), title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return atomic_savefig(fig, path)


def plot_pr_curves(corrupted: np.ndarray, detectors: Sequence[tuple[str, np.ndarray, np.ndarray]], path: Path,
                   title: str | None = None) -> Path:  # fmt: skip
    """Noise detection: each detector's precision-recall curve of its score (``(name, score,
    flagged)``, scored against ``corrupted``), its average precision in the legend and its own
    flagged set marked as a point; the dotted line is the noise rate (a random ranking)."""
    from matplotlib.figure import Figure
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.subplots()
    for name, score, flagged in detectors:
        precision, recall, _ = precision_recall_curve(corrupted, score)
        ap = average_precision_score(corrupted, score)
        line = ax.plot(recall, precision, label=f"{name} (AP {ap:.3f})")
        hits = int((flagged & corrupted).sum())
        if flagged.any():
            ax.plot(hits / max(1, corrupted.sum()), hits / flagged.sum(), "o", color=line[0].get_color())
    ax.axhline(float(np.mean(corrupted)), color="gray", linestyle=":", linewidth=1)
    ax.set(xlabel="recall", ylabel="precision", xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    return atomic_savefig(fig, path)


def plot_err_vs_eta(panels: dict[str, Sequence[Curve]], path: Path, ylabel: str,
                    xlabel: str = "label noise η") -> Path:  # fmt: skip
    """Errors against the label-noise rate η (or another swept key), one panel per metric side by
    side, sharing the y axis (Figure 2a: adversarial, test and training error)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5 * len(panels), 4))
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    for i, (ax, (title, curves)) in enumerate(zip(axes, panels.items(), strict=True)):
        _draw(ax, curves, xlabel, ylabel if i == 0 else "", title)
    return atomic_savefig(fig, path)


# The per-epoch curves (callbacks/curves.py): (results key stem, label), by panel.
CURVE_PANELS = {
    "test subset": (("test_err", "natural error"), ("test_adv_err", "adversarial error")),
    "training set": (("train_err", "error on the given labels"),
                     ("train_err_clean", "error on the clean labels"), ("noise_fit", "noise fitted")),
}  # fmt: skip


def run_curves(results: dict[str, Any], stem: str) -> Curve | None:
    """A run's curve ``<stem>_by_epoch`` against its epochs (None where a value is missing)."""
    values = results.get(f"{stem}_by_epoch")
    epochs = results.get("curve_adv_epochs" if stem == "test_adv_err" else "curve_epochs")
    points = [(e, v) for e, v in zip(epochs or [], values or [], strict=False) if v is not None]
    return Curve("", *zip(*points, strict=True)) if points else None


def plot_run_curves(results: dict[str, Any], path: Path) -> Path:
    """A run's per-epoch curves: the test subset's natural and adversarial error, and the training
    set's errors on the given and the clean labels with the fraction of the noise fitted."""
    panels = {}
    for title, stems in CURVE_PANELS.items():
        curves = []
        for stem, label in stems:
            curve = run_curves(results, stem)
            if curve is not None:
                curves.append(Curve(label, curve.x, curve.y))
        panels[title] = curves
    attack = (results.get("curves") or {}).get("attack", "")
    return plot_err_vs_eta(panels, path, "fraction", xlabel=f"epoch (adversarial: {attack})")


def plot_memorization(memorization: dict[str, np.ndarray], results: dict[str, Any], path: Path) -> Path:
    """Fraction of clean and of mislabelled training points fit after each epoch (Figure 3)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    epochs = memorization["epochs"]
    ax.plot(epochs, memorization["clean_fit"], marker=".", label="clean labels")
    if memorization["corrupted"].any():
        ax.plot(epochs, memorization["noisy_fit"], marker=".", label="mislabelled")
    ax.set(xlabel="epoch", ylabel="training points fit", ylim=(-0.02, 1.02), title=_title(results))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.grid(alpha=0.3)
    ax.legend()
    return atomic_savefig(fig, path)


def plot_decision_regions(
    xs, ys, pred, x, labels, corrupted, path: Path, title: str, eps: float | None
) -> Path:
    """Decision regions with the training points; mislabelled points marked ×; ``eps`` drawn as a
    square of side 2ε (the ℓ∞ ball) in a corner when the method trained against it."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.contourf(xs, ys, pred, levels=np.arange(pred.max() + 2) - 0.5, cmap="coolwarm", alpha=0.35)
    clean = ~corrupted
    ax.scatter(
        x[clean, 0], x[clean, 1], c=labels[clean], cmap="coolwarm", s=4, vmin=0, vmax=max(1, labels.max())
    )
    if corrupted.any():
        ax.scatter(x[corrupted, 0], x[corrupted, 1], c=labels[corrupted], cmap="coolwarm", marker="x", s=25,
                   vmin=0, vmax=max(1, labels.max()), label="mislabelled")  # fmt: skip
        ax.legend(loc="upper right", fontsize=7)
    if eps:
        ax.add_patch(Rectangle((xs[0] + 0.1, ys[0] + 0.1), 2 * eps, 2 * eps, fill=False, lw=1.5, label="ε"))
    ax.set(title=title, aspect="equal")
    return atomic_savefig(fig, path)


# Figure 3's six colours (matplotlib's first six): kind x correct label.
REPRESENTATION_STYLE = {
    ("clean", 0): ("C0", "o", "True 0"), ("clean", 1): ("C1", "o", "True 1"),
    ("mislabelled", 0): ("C2", "o", "Noisy 0"), ("mislabelled", 1): ("C3", "o", "Noisy 1"),
    ("adversarial", 0): ("C4", "+", "Adv 0"), ("adversarial", 1): ("C5", "+", "Adv 1"),
}  # fmt: skip


def plot_representations(tags: Sequence[str], projections: dict[str, dict[str, Any]], path: Path) -> Path:
    """Figure 3: one panel per snapshot, the 2-D PCA of the penultimate activations of correctly
    labelled, mislabelled and adversarial examples, coloured by kind and correct label."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * len(tags), 4))
    axes = np.atleast_1d(fig.subplots(1, len(tags)))
    for ax, tag in zip(axes, tags, strict=True):
        for kind, (xy, labels) in projections[tag].items():
            for label in np.unique(labels):
                style = REPRESENTATION_STYLE.get((kind, int(label)), ("k", ".", f"{kind} {label}"))
                colour, marker, name = style
                rows = labels == label
                ax.scatter(xy[rows, 0], xy[rows, 1], c=colour, marker=marker, s=8, label=name, alpha=0.7)
        ax.set(title=tag.replace("_", " "), xticks=[], yticks=[])
    axes[0].legend(fontsize=7, markerscale=1.5)
    return atomic_savefig(fig, path)


def plot_panels(images: dict[str, Path], path: Path, columns: int = 4) -> Path:
    """Runs' own PNGs side by side, one panel per run with its label (a sweep's decision regions:
    Figures 7, 8 and 9a)."""
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    rows = -(-len(images) // columns)
    width = min(columns, len(images))
    fig = Figure(figsize=(4 * width, 4 * rows))
    axes = np.atleast_1d(fig.subplots(rows, width)).ravel()
    for ax, (label, image) in zip(axes, images.items(), strict=False):
        ax.imshow(imread(image))
        ax.set_title(label, fontsize=8)
    for ax in axes:
        ax.axis("off")
    return atomic_savefig(fig, path)


def write_run_figures(run_dir: str | Path, results: dict[str, Any]) -> dict[str, Path]:
    """The figures of a finished run, by W&B key."""
    out = Path(run_dir) / FIGURES_DIR
    figures = {
        "figures/adv_err_vs_eps": plot_adv_err_vs_eps(
            [run_eps_curve(results)], out / "adv_err_vs_eps.png", title=_title(results)
        )
    }
    if results.get("curve_epochs"):
        figures["figures/curves"] = plot_run_curves(results, out / "curves.png")
    memorization_file = Path(run_dir) / "memorization.npz"
    if memorization_file.exists():
        with np.load(memorization_file) as memorization:
            figures["figures/memorization"] = plot_memorization(
                dict(memorization), results, out / "memorization.png"
            )
    return figures


def plot_wang_regime(curves: dict[int, list[tuple[float, float]]], edges: dict[float, float], beta: float,
                     path: Path) -> Path:  # fmt: skip
    """Wang et al.'s regime: robust test error against α/‖μ‖, one curve per d (β dotted), and the
    α-edge against d/(n‖μ‖²)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for d, points in curves.items():
        left.plot(*zip(*points, strict=True), marker="o", label=f"d = {d}")
    left.axhline(beta, ls=":", c="gray", label="β")
    left.axhline(0.5, ls="--", c="gray", lw=0.8)
    left.set(xlabel="α / ‖μ‖", ylabel="robust test error", ylim=(0, 1.05))
    left.legend(fontsize=8)
    ratio = sorted(edges)
    right.plot(ratio, [edges[x] for x in ratio], marker="o")
    right.set(xscale="log", xlabel="d / (n ‖μ‖²)", ylabel="α-edge / ‖μ‖", ylim=(0, 1.05))
    fig.tight_layout()
    atomic_savefig(fig, path)
    plt.close(fig)
    return path
